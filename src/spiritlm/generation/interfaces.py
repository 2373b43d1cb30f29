"""The two seams between the language model and the speech side.

Generation only needs audio -> units (a `SpeechEncoder`) and units -> audio (a `Vocoder`). The
speech tokenizers (`spiritlm.speech`) and unit vocoders (`spiritlm.vocoder`) implement these; tests
of the LM may use any object with the same methods.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..units import SpeechUnits


@runtime_checkable
class SpeechEncoder(Protocol):
    """Audio -> units. `is_expressive` says whether pitch and style streams are produced."""

    is_expressive: bool

    def encode_units(self, wav: np.ndarray) -> SpeechUnits:
        """1-D float32 waveform at 16 kHz -> raw units (streams at their own rates)."""
        ...


@runtime_checkable
class Vocoder(Protocol):
    """Units -> audio at `sample_rate` (16 kHz for every Spirit vocoder)."""

    sample_rate: int

    def synthesize(self, units: SpeechUnits, speaker_id: int | None = None) -> np.ndarray:
        """Aligned units (read from LM tokens; durations predicted) or raw units (tokenizer
        output; no duration prediction) -> 1-D float32 waveform."""
        ...
