"""The only place that reads, resamples and writes audio (soundfile + soxr, no torchaudio).

Everything downstream works on 1-D float32 numpy arrays at 16 kHz. `load_audio` accepts a path,
raw file bytes, a numpy array or a torch tensor, and always returns that form::

    wav = load_audio("speech.flac")              # any rate/channels -> 16 kHz mono float32
    wav = load_audio(arr, sample_rate=44100)     # arrays need their rate to be resampled

`split_chunks` is the official tokenizers' chunking, shared by every speech stream (HuBERT, pitch, style).
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np

from .errors import AudioError, InvalidSpeechInput

SAMPLE_RATE = 16000
logger = logging.getLogger(__name__)
__all__ = ["AudioError", "MAX_CHUNK", "MIN_CHUNK", "SAMPLE_RATE", "audio_duration", "is_file", "load_audio",
           "speech_kind", "split_chunks", "writable_format", "write_audio"]
MAX_CHUNK = 100 * SAMPLE_RATE  # the official tokenizers cut audio into 100 s chunks ...
MIN_CHUNK = 1280  # ... and skip those under 80 ms
SPEECH_KINDS = "a path, audio file bytes, a waveform (numpy array / torch tensor), SpeechUnits or a unit string"


def is_file(path) -> bool:
    """`Path.is_file` that answers False instead of raising (a name over 255 bytes, a NUL byte)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def speech_kind(content) -> str:
    """THE rule for a speech input: "units" (SpeechUnits), "unit_string", "path", "bytes" or "waveform".

    A string whose first non-blank character is "[" is a unit string and is never opened as a path
    (give a `pathlib.Path` for a file whose name starts with "["); any other string is a path.
    Numbers, lists and other objects are refused, so that `("speech", 123)` is not a 1-sample waveform.
    """
    from .units import SpeechUnits

    if isinstance(content, SpeechUnits):
        return "units"
    if isinstance(content, str):
        if not content.strip():
            raise InvalidSpeechInput(f"the speech input is an empty string; give {SPEECH_KINDS}")
        return "unit_string" if content.lstrip().startswith("[") else "path"
    if isinstance(content, os.PathLike):
        return "path"
    if isinstance(content, (bytes, bytearray, memoryview)):
        return "bytes"
    if (isinstance(content, np.ndarray) or hasattr(content, "detach")) and getattr(content, "ndim", 0) >= 1:
        return "waveform"
    raise InvalidSpeechInput(f"a speech input must be {SPEECH_KINDS}; got {type(content).__name__} {content!r:.40}")


def audio_duration(content, sample_rate: int | None = None) -> float | None:
    """Seconds of audio in a path / bytes / waveform input without decoding it (None when it cannot tell)."""
    kind = speech_kind(content)
    if kind == "waveform":
        n = max(content.shape) if getattr(content, "ndim", 1) == 2 else content.shape[-1]
        return int(n) / float(sample_rate or SAMPLE_RATE)
    if kind not in ("path", "bytes"):
        return None
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(bytes(content)) if kind == "bytes" else str(content))
    except Exception:  # unreadable: load_audio gives the real error later
        return None
    return float(info.frames) / info.samplerate if info.samplerate > 0 else None


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
    if not isinstance(source, bytes):
        if Path(source).is_dir():
            raise AudioError(f"{name} is a folder, not an audio file")
        if not is_file(source):
            raise AudioError(f"audio file not found: {name:.300}")
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
    kind = speech_kind(audio)
    if kind in ("units", "unit_string"):
        raise InvalidSpeechInput(f"expected audio ({SPEECH_KINDS.replace(', SpeechUnits or a unit string', '')}), "
                                 f"got {'SpeechUnits' if kind == 'units' else 'a unit string'}")
    if kind in ("path", "bytes"):
        data, sr = read_file(bytes(audio) if kind == "bytes" else audio)
        if sample_rate is not None and sample_rate != sr:
            raise AudioError(f"sample_rate={sample_rate} given, but the file says {sr}")
    else:
        data = _int_to_float(_to_numpy(audio))
        sr = target_sr if sample_rate is None else sample_rate
    wav = check_samples(to_mono(data, channel), "audio")
    return resample(wav, sr, target_sr)


def writable_format(path: str | os.PathLike) -> str:
    """The soundfile format of an output path's suffix (no suffix: WAV), or `OutputPathError` listing the valid ones."""
    import soundfile as sf

    from .errors import OutputPathError

    fmt = (Path(path).suffix.lstrip(".") or "wav").upper()
    formats = sf.available_formats()
    if fmt not in formats:
        raise OutputPathError(f"cannot write audio as {Path(path).name}: unknown format {fmt.lower()!r}; "
                              "valid suffixes: .wav, .flac, .ogg and " + ", ".join("." + f.lower() for f in formats
                                                                                  if f not in ("WAV", "FLAC", "OGG")))
    return fmt


def write_audio(path: str | os.PathLike, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a 16-bit PCM wav (or any format soundfile infers from the suffix); atomic."""
    import soundfile as sf

    wav = check_samples(np.asarray(wav, dtype=np.float32).reshape(-1), "waveform to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        from .errors import OutputPathError

        raise OutputPathError(f"cannot write audio to {path}: it is a folder; give a file name such as {path}/out.wav")
    tmp = path.with_name(path.name + ".part")
    fmt = writable_format(path)
    try:
        sf.write(str(tmp), np.clip(wav, -1.0, 1.0), sample_rate, format=fmt,
                 subtype="PCM_16" if fmt in ("WAV", "FLAC") else None)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # no partial file is left behind on failure
    return path


def split_chunks(wav: np.ndarray, max_chunk: int = MAX_CHUNK, min_chunk: int = MIN_CHUNK) -> list[np.ndarray]:
    """The official chunking: `max_chunk`-sample pieces, those under `min_chunk` samples dropped."""
    chunks = [wav[i : i + max_chunk] for i in range(0, len(wav), max_chunk)]
    return [c for c in chunks if len(c) >= min_chunk]
