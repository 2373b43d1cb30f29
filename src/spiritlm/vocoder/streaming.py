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
2C frames of recomputed context.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from .hifigan import HiFiGANStack


def context_frames(stack: HiFiGANStack) -> int:
    """Frames of context (each side) that fully cover the stack's receptive field."""
    need = stack.conv_post.padding[0]  # samples at the output rate
    for i in reversed(range(len(stack.ups))):
        need += max(b.receptive_half_width() for b in stack.stage_blocks(i))
        up = stack.ups[i]
        k, u, p = up.kernel_size[0], up.stride[0], up.padding[0]
        need = math.ceil((need + max(p, k - 1 - p)) / u) + 1  # input samples of the transposed conv
    return need + stack.conv_pre.padding[0]


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
    ctx = context_frames(stack) if context is None else context
    hop = math.prod(u.stride[0] for u in stack.ups)
    n = cond.shape[-1]
    for a, b in chunk_bounds(n, chunk, first_chunk):
        lo, hi = max(0, a - ctx), min(n, b + ctx)
        wav = stack(cond[:, :, lo:hi])[0]  # [(hi - lo) * hop]
        yield wav[(a - lo) * hop:(b - lo) * hop]
