"""TTS engines for the synthetic corpus. Each is optional: `find_engines` reports which are installed.

| engine | how it runs | speakers | timings |
|---|---|---|---|
| espeak | libespeak-ng via ctypes | 6 accents/variants | exact word + phoneme events |
| flite | `flite` program | kal16, awb, rms, slt | phone end times + lexicon |
| festival | `festival -b` Scheme script | kal, ked, slt (HTS) | word + segment times |
| piper | onnxruntime + the joe VITS voice | joe | predicted phoneme durations |
"""

from __future__ import annotations

import importlib
import logging

from .base import EngineError, Synthesis, Voice

logger = logging.getLogger(__name__)

ENGINES = {"espeak": "espeak.EspeakEngine", "flite": "flite.FliteEngine",
           "festival": "festival.FestivalEngine", "piper": "piper.PiperEngine"}

__all__ = ["ENGINES", "EngineError", "Synthesis", "Voice", "engine_class", "find_engines", "make_engine"]


def engine_class(name: str):
    if name not in ENGINES:
        raise ValueError(f"unknown TTS engine {name!r}; valid engines: {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(".")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def find_engines(names: tuple[str, ...] | list[str]) -> list[str]:
    """The engines among `names` that are installed here (logs the missing ones)."""
    found = []
    for name in names:
        if engine_class(name).available():
            found.append(name)
        else:
            logger.warning("TTS engine %s is not installed; skipping it (see `make corpus-deps`)", name)
    return found


def make_engine(name: str):
    return engine_class(name)()
