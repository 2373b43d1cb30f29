"""Chunked synthesis that reproduces offline synthesis exactly.

The HiFi-GAN stack is a chain of convolutions, so output sample ``n`` depends only on a finite
window of input frames: its receptive field. `context_frames` walks the stack backwards and counts
how many frames on each side can influence one frame's samples. A chunk of frames ``[a, b)`` is
then synthesized from frames ``[a - C, b + C)`` (clipped to the utterance) and only the samples of
``[a, b)`` are kept: every kept sample sees the same inputs as offline, including the zero padding
at the true start and end, so the concatenation equals the offline waveform up to float rounding.

    frames  |----C----|=====chunk=====|----C----|
    samples           [ kept: (b-a)*hop ]

A small first chunk lowers the time to first audio; later chunks are larger to amortise the
2C frames of recomputed context. `stream_stateful` avoids that recomputation altogether by running
every layer incrementally (`stateful.StreamingStack`); it is the default of `UnitVocoder.stream`,
and this module's context method is the simple, independent reference it is tested against.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from .config import VocoderConfig
from .hifigan import HiFiGANStack
from .stateful import StreamingStack


def _block_half_width(kernel_size: int, dilations: tuple[int, ...]) -> int:
    """Samples of context a residual block needs on each side (a dilated and a plain conv per pair)."""
    return sum((kernel_size - 1) * d // 2 + (kernel_size - 1) // 2 for d in dilations)


def context_frames(cfg: VocoderConfig) -> int:
    """Frames of context (each side) that fully cover the HiFi-GAN stack's receptive field."""
    need = 3  # conv_post (k7), in samples at the output rate
    for u, k in reversed(list(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes))):
        need += max(_block_half_width(rk, rd) for rk, rd in zip(cfg.resblock_kernel_sizes,
                                                                 cfg.resblock_dilation_sizes))
        p = (k - u) // 2
        need = math.ceil((need + max(p, k - 1 - p)) / u) + 1  # input samples of the transposed conv
    return need + 3  # conv_pre (k7)


def chunk_bounds(n_frames: int, chunk: int, first_chunk: int | None = None) -> list[tuple[int, int]]:
    """[(start, end)) frame ranges covering n_frames: first_chunk frames, then `chunk` frames each."""
    if chunk < 1 or (first_chunk is not None and first_chunk < 1):
        raise ValueError(f"chunk sizes must be >= 1 frame, got chunk={chunk}, first_chunk={first_chunk}")
    bounds, start = [], 0
    size = first_chunk or chunk
    while start < n_frames:
        end = min(n_frames, start + size)
        bounds.append((start, end))
        start, size = end, chunk
    return bounds


def stream_frames(stack: HiFiGANStack, cond: torch.Tensor, chunk: int, first_chunk: int | None = None,
                  context: int | None = None) -> Iterator[torch.Tensor]:
    """Features [1, C, T] -> waveform pieces [n_i] whose concatenation is `stack(cond)[0]`."""
    ctx = context_frames(stack.cfg) if context is None else context
    hop = stack.cfg.hop_length
    n = cond.shape[-1]
    for a, b in chunk_bounds(n, chunk, first_chunk):
        lo, hi = max(0, a - ctx), min(n, b + ctx)
        wav = stack(cond[:, :, lo:hi])[0]  # [(hi - lo) * hop]
        yield wav[(a - lo) * hop:(b - lo) * hop]


def stream_stateful(stack: HiFiGANStack, cond: torch.Tensor, chunk: int,
                    first_chunk: int | None = None) -> Iterator[torch.Tensor]:
    """Features [1, C, T] -> waveform pieces [n_i], each layer run incrementally (no recomputation).

    The first push carries `first_chunk` frames plus the stack's look-ahead, so that about
    `first_chunk` frames of audio come out at once; later pushes carry `chunk` frames.
    """
    if chunk < 1 or (first_chunk is not None and first_chunk < 1):
        raise ValueError(f"chunk sizes must be >= 1 frame, got chunk={chunk}, first_chunk={first_chunk}")
    runner = StreamingStack(stack)
    n = cond.shape[-1]
    cuts = [0, min(n, (first_chunk or chunk) + context_frames(stack.cfg))]
    while cuts[-1] < n:
        cuts.append(min(n, cuts[-1] + chunk))
    for a, b in zip(cuts[:-1], cuts[1:]):
        piece = runner.push(cond[:, :, a:b], final=b == n)[0]
        if piece.numel():
            yield piece
