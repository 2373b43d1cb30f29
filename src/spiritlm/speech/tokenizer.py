"""The speech tokenizer: audio -> `SpeechUnits` (hubert; plus pitch and style for Expressive).

The official rules, kept exactly: audio is 16 kHz mono (files are resampled, stereo averaged or
one channel picked), cut into 100 s chunks; a chunk shorter than 1280 samples (80 ms) is skipped;
each chunk runs through every stream on its own and the per-chunk units are concatenated::

    250 s of audio -> chunks of 100 s, 100 s, 50 s -> hubert 2499 + 2499 + 1249 units

For corpus work `encode_batch` takes many inputs, pads chunks of similar length into batches
(HuBERT masks the padding, so each file gets the units it would get alone) and reports a bad
file in its result instead of stopping the others.

    >>> tok = SpeechTokenizer(hubert, quantizer)            # Base
    >>> tok.encode_units("a.flac").hubert[:5]
    array([99, 49, 38, 149, 149])
    >>> tok.encode_string("a.flac")[:24]
    '[Hu99][Hu49][Hu38][Hu149]'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ..audio import MAX_CHUNK, MIN_CHUNK, AudioError, load_audio, split_chunks
from ..tokens import units_to_string
from ..units import SpeechUnits
from .hubert import HubertFeatures

logger = logging.getLogger(__name__)


class UnitStream(Protocol):
    """A pitch or style tokenizer: one 16 kHz chunk -> int64 codes."""

    def encode(self, wav: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class EncodeResult:
    """One input of `encode_batch`: units, or the error that stopped this input."""

    source: str
    units: SpeechUnits | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _describe(audio) -> str:
    if isinstance(audio, (str, os.PathLike)):
        return str(audio)
    if isinstance(audio, bytes):
        return f"<{len(audio)} bytes>"
    return f"<array {tuple(getattr(audio, 'shape', ()))}>"


class SpeechTokenizer:
    """HuBERT + quantizer (+ optional pitch and style streams) with the official chunking."""

    def __init__(self, hubert: HubertFeatures, quantizer: torch.nn.Module, pitch: UnitStream | None = None,
                 style: UnitStream | None = None, max_chunk: int = MAX_CHUNK, min_chunk: int = MIN_CHUNK,
                 batch_size: int = 8, max_batch_samples: int = MAX_CHUNK,
                 device: str | torch.device = "cpu") -> None:
        if (pitch is None) != (style is None):
            logger.info("expressive tokenizer with only one of pitch/style")
        if min_chunk < 1 or max_chunk < min_chunk:
            raise ValueError(f"need 1 <= min_chunk <= max_chunk, got {min_chunk}, {max_chunk}")
        self.hubert = hubert
        self.quantizer = quantizer
        self.pitch = pitch
        self.style = style
        self.max_chunk = max_chunk
        self.min_chunk = min_chunk
        self.batch_size = batch_size
        self.max_batch_samples = max_batch_samples  # padded samples per HuBERT batch (bounds memory)
        self.device = torch.device(device)
        self.hubert.to(self.device)
        self.quantizer.to(self.device)

    @property
    def is_expressive(self) -> bool:
        return self.pitch is not None

    @property
    def sample_rate(self) -> int:
        return self.hubert.spec.sample_rate

    # ------------------------------------------------------------------ single input

    def load(self, audio, sample_rate: int | None = None, channel: int | None = None) -> np.ndarray:
        """Any input (path, bytes, array, tensor) -> 1-D float32 at 16 kHz."""
        wav = load_audio(audio, sample_rate=sample_rate, channel=channel, target_sr=self.sample_rate)
        peak = float(np.abs(wav).max())
        if peak > 1.0:
            logger.warning("audio peaks at %.2f (beyond [-1, 1]); encoding it unscaled", peak)
        return wav

    def chunks(self, wav: np.ndarray) -> list[np.ndarray]:
        out = split_chunks(wav, self.max_chunk, self.min_chunk)
        if not out:
            logger.warning("audio of %d samples is shorter than %d (%.0f ms): no units", len(wav), self.min_chunk,
                           1000 * self.min_chunk / self.sample_rate)
        return out

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped longest first; a batch closes when full, when padding would exceed 25%, or
        when it would hold more than `max_batch_samples` padded samples."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches: list[list[int]] = []
        for i in order:
            last = batches[-1] if batches else None
            if (last and len(last) < self.batch_size and lengths[i] >= 0.75 * lengths[last[0]]
                    and (len(last) + 1) * lengths[last[0]] <= self.max_batch_samples):
                last.append(i)
            else:
                batches.append([i])
        return batches

    @torch.inference_mode()
    def hubert_units(self, chunks: Sequence[np.ndarray]) -> list[np.ndarray]:
        """HuBERT units of each chunk, computed in padded batches of similar lengths."""
        out: list[np.ndarray | None] = [None] * len(chunks)
        for idx in self._batches([len(c) for c in chunks]):
            lengths = torch.tensor([len(chunks[i]) for i in idx])
            batch = torch.zeros(len(idx), int(lengths.max()))  # [B, T]
            for row, i in enumerate(idx):
                batch[row, :len(chunks[i])] = torch.from_numpy(np.ascontiguousarray(chunks[i]))
            feats, frames = self.hubert(batch.to(self.device), lengths.to(self.device))  # [B, F, D]
            codes = self.quantizer(feats, frames).cpu().numpy()  # [B, F]
            for row, i in enumerate(idx):
                out[i] = codes[row, :int(frames[row])].astype(np.int64)
        return out  # type: ignore[return-value]

    def _units_of(self, chunks: list[np.ndarray], hubert: list[np.ndarray]) -> SpeechUnits:
        def cat(parts):
            return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

        pitch = cat([np.asarray(self.pitch.encode(c), np.int64).reshape(-1) for c in chunks]) if self.pitch else None
        style = cat([np.asarray(self.style.encode(c), np.int64).reshape(-1) for c in chunks]) if self.style else None
        return SpeechUnits(cat(hubert), pitch, style)

    def encode_units(self, audio, sample_rate: int | None = None, channel: int | None = None) -> SpeechUnits:
        """Audio -> raw units. Paths are recorded in `SpeechUnits.audio` (absolute, as the official dict)."""
        wav = self.load(audio, sample_rate, channel)
        chunks = self.chunks(wav)
        units = self._units_of(chunks, self.hubert_units(chunks))
        if isinstance(audio, (str, os.PathLike)):
            units = SpeechUnits(units.hubert, units.pitch, units.style, audio=os.path.abspath(audio))
        return units

    def encode_string(self, audio, **kwargs) -> str:
        """Audio -> the official deduplicated, time-interleaved token string."""
        return units_to_string(self.encode_units(audio, **kwargs))

    __call__ = encode_string

    # ------------------------------------------------------------------ many inputs

    def encode_batch(self, inputs: Sequence, sample_rate: int | None = None,
                     channel: int | None = None) -> list[EncodeResult]:
        """Many inputs at once (HuBERT batched across files). A bad input gives an error result."""
        loaded: list[tuple[int, list[np.ndarray]]] = []
        results: list[EncodeResult | None] = [None] * len(inputs)
        for i, audio in enumerate(inputs):
            try:
                loaded.append((i, self.chunks(self.load(audio, sample_rate, channel))))
            except (AudioError, ValueError, OSError) as e:
                logger.warning("skipping %s: %s", _describe(audio), e)
                results[i] = EncodeResult(_describe(audio), error=str(e))
        flat = [c for _, chunks in loaded for c in chunks]
        codes = self.hubert_units(flat)
        pos = 0
        for i, chunks in loaded:
            hub = codes[pos:pos + len(chunks)]
            pos += len(chunks)
            try:
                units = self._units_of(chunks, hub)
            except Exception as e:  # a pitch/style failure on one file must not stop the others
                logger.warning("skipping %s: %s", _describe(inputs[i]), e)
                results[i] = EncodeResult(_describe(inputs[i]), error=f"{type(e).__name__}: {e}")
                continue
            src = inputs[i]
            if isinstance(src, (str, os.PathLike)):
                units = SpeechUnits(units.hubert, units.pitch, units.style, audio=os.path.abspath(src))
            results[i] = EncodeResult(_describe(src), units=units)
        return results  # type: ignore[return-value]
