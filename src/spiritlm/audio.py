"""The only place that reads, resamples and writes audio (soundfile + soxr, no torchaudio).

Everything downstream works on 1-D float32 numpy arrays at 16 kHz. `load_audio` accepts a path,
raw file bytes, a numpy array or a torch tensor, and always returns that form::

    wav = load_audio("speech.flac")              # any rate/channels -> 16 kHz mono float32
    wav = load_audio(arr, sample_rate=44100)     # arrays need their rate to be resampled
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
logger = logging.getLogger(__name__)


class AudioError(ValueError):
    """Audio that cannot be used: unreadable, empty, non-finite, or of the wrong shape."""


def _to_numpy(audio) -> np.ndarray:
    if hasattr(audio, "detach"):  # torch.Tensor without importing torch here
        audio = audio.detach().cpu().float().numpy()
    return np.asarray(audio)


def _int_to_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "i":
        return arr.astype(np.float32) / float(2 ** (8 * arr.dtype.itemsize - 1))
    if arr.dtype.kind == "u":
        half = 2 ** (8 * arr.dtype.itemsize - 1)
        return (arr.astype(np.float32) - half) / half
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    raise AudioError(f"audio samples must be integers or floats, got dtype {arr.dtype}")


def to_mono(wav: np.ndarray, channel: int | None = None) -> np.ndarray:
    """[T] or [C, T] / [T, C] -> [T]. Several channels are averaged unless `channel` is given."""
    wav = np.atleast_1d(np.squeeze(wav))  # a 1-sample input stays 1-D
    if wav.ndim == 1:
        if channel not in (None, 0):
            raise AudioError(f"channel {channel} requested but the audio is mono")
        return wav
    if wav.ndim != 2:
        raise AudioError(f"audio must be 1-D [T] or 2-D [channels, T], got shape {wav.shape}")
    if wav.shape[0] > wav.shape[1]:  # [T, C] as soundfile returns it
        wav = wav.T
    n = wav.shape[0]
    if channel is not None:
        if not 0 <= channel < n:
            raise AudioError(f"channel {channel} does not exist: the audio has {n} channels (0..{n - 1})")
        return wav[channel]
    if n > 1:
        logger.info("averaging %d audio channels to mono", n)
    return wav.mean(axis=0)


def resample(wav: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    if orig_sr <= 0:
        raise AudioError(f"sample rate must be positive, got {orig_sr}")
    if orig_sr == target_sr:
        return wav.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(wav.astype(np.float32, copy=False), orig_sr, target_sr, quality="HQ").astype(np.float32)


def check_samples(wav: np.ndarray, what: str = "audio") -> np.ndarray:
    if wav.size == 0:
        raise AudioError(f"{what} is empty (0 samples)")
    if not np.all(np.isfinite(wav)):
        bad = int(np.size(wav) - np.isfinite(wav).sum())
        raise AudioError(f"{what} has {bad} NaN or Inf samples")
    return wav


def read_file(source: str | os.PathLike | bytes) -> tuple[np.ndarray, int]:
    """Read an audio file (path or bytes) with soundfile: ([T] or [T, C] float32, rate)."""
    import soundfile as sf

    name = "<bytes>" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes) and not Path(source).is_file():
        raise AudioError(f"audio file not found: {name}")
    try:
        data, sr = sf.read(io.BytesIO(source) if isinstance(source, bytes) else str(source),
                           dtype="float32", always_2d=False)
    except Exception as e:  # soundfile raises several types for corrupt/unknown formats
        raise AudioError(f"cannot read audio {name}: {e}") from e
    return data, int(sr)


def load_audio(audio, sample_rate: int | None = None, channel: int | None = None,
               target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Any audio input -> 1-D float32 at `target_sr`.

    Paths and bytes carry their own rate. Arrays and tensors are taken as `target_sr` unless
    `sample_rate` says otherwise (the official code never resamples arrays).
    """
    if isinstance(audio, (str, os.PathLike, bytes)):
        data, sr = read_file(audio)
        if sample_rate is not None and sample_rate != sr:
            raise AudioError(f"sample_rate={sample_rate} given, but the file says {sr}")
    else:
        data = _int_to_float(_to_numpy(audio))
        sr = target_sr if sample_rate is None else sample_rate
    wav = check_samples(to_mono(data, channel), "audio")
    return resample(wav, sr, target_sr)


def write_audio(path: str | os.PathLike, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a 16-bit PCM wav (or any format soundfile infers from the suffix); atomic."""
    import soundfile as sf

    wav = check_samples(np.asarray(wav, dtype=np.float32).reshape(-1), "waveform to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    fmt = (path.suffix.lstrip(".") or "wav").upper()
    sf.write(str(tmp), np.clip(wav, -1.0, 1.0), sample_rate, format=fmt,
             subtype="PCM_16" if fmt in ("WAV", "FLAC") else None)
    os.replace(tmp, path)
    return path
