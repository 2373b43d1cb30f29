"""Speech units: the typed result of a speech tokenizer and the input of a vocoder.

A speech tokenizer emits up to three streams at their own rates (the *raw* form)::

    hubert  25 Hz    [99, 49, 49, 38, ...]      one unit per 640 samples at 16 kHz
    pitch   12.5 Hz  [39, 39, 48, ...]          Expressive only
    style   1 Hz     [71, 71, ...]              Expressive only

The LM sees them merged into one deduplicated token sequence (see `spiritlm.tokens`). Read back
from that sequence, every Hu token carries the pitch and style in force at its position, so the
three streams then have the HuBERT length: the *aligned* form (``aligned=True``), which the
vocoder expands with its duration predictor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HUBERT_RATE = 25.0
"""HuBERT units per second (hop 640 samples at 16 kHz)."""
HUBERT_STRING_RATE = 24.99
"""The rate the official string format uses for Hu timestamps (i / 24.99), kept exactly."""
PITCH_RATE = 12.5
STYLE_RATE = 1.0
SAMPLE_RATE = 16000


def _as_units(values, name: str) -> np.ndarray:
    if isinstance(values, str):
        values = values.split()
    try:
        arr = np.asarray(values, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} units must be integers, got {values!r:.80}") from e
    except OverflowError:
        raise ValueError(f"a {name} unit is out of range (larger than any vocabulary: over 2**63 - 1)") from None
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} units must be non-negative, got {int(arr.min())}")
    return arr


@dataclass(frozen=True, eq=False)
class SpeechUnits:
    """Discrete speech units of one utterance.

    `aligned` is False for streams at their own rates (tokenizer output) and True when pitch and
    style hold one value per HuBERT unit (read back from a token sequence).
    """

    hubert: np.ndarray  # [T_hu] int64
    pitch: np.ndarray | None = None  # [T_pi] (raw) or [T_hu] (aligned)
    style: np.ndarray | None = None  # [T_st] (raw) or [T_hu] (aligned)
    aligned: bool = False
    audio: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hubert", _as_units(self.hubert, "hubert"))
        for name in ("pitch", "style"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _as_units(value, name))
        if self.aligned:
            for name in ("pitch", "style"):
                value = getattr(self, name)
                if value is not None and len(value) != len(self.hubert):
                    raise ValueError(
                        f"aligned SpeechUnits need one {name} value per hubert unit: "
                        f"{len(value)} {name} vs {len(self.hubert)} hubert"
                    )

    @property
    def is_expressive(self) -> bool:
        return self.pitch is not None or self.style is not None

    def __len__(self) -> int:
        return len(self.hubert)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpeechUnits):
            return NotImplemented

        def same(a, b):
            return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))

        return (self.aligned == other.aligned and same(self.hubert, other.hubert)
                and same(self.pitch, other.pitch) and same(self.style, other.style))

    def __repr__(self) -> str:
        def show(a):
            if a is None:
                return "None"
            head = " ".join(map(str, a[:8].tolist()))
            return f"[{head}{' ...' if len(a) > 8 else ''}] ({len(a)})"

        return (f"SpeechUnits(hubert={show(self.hubert)}, pitch={show(self.pitch)}, "
                f"style={show(self.style)}, aligned={self.aligned})")

    @property
    def duration(self) -> float:
        """Seconds of audio the HuBERT stream covers (raw form)."""
        return len(self.hubert) / HUBERT_RATE

    def to_official_dict(self) -> dict[str, str]:
        """The official `encode_units` result: space-separated decimal strings per stream."""
        out = {"hubert": " ".join(map(str, self.hubert.tolist()))}
        if self.pitch is not None:
            out["pitch"] = " ".join(map(str, self.pitch.tolist()))
        if self.style is not None:
            out["style"] = " ".join(map(str, self.style.tolist()))
        if self.audio is not None:
            out["audio"] = self.audio
        return out

    @classmethod
    def from_official_dict(cls, d: dict, aligned: bool = False) -> SpeechUnits:
        unknown = set(d) - {"hubert", "pitch", "style", "audio"}
        if unknown:
            raise ValueError(f"unknown unit streams {sorted(unknown)}; valid: hubert, pitch, style, audio")
        if "hubert" not in d:
            raise ValueError("a units dict needs a 'hubert' stream")
        return cls(d["hubert"], d.get("pitch"), d.get("style"), aligned=aligned, audio=d.get("audio"))

    def dedup_hubert(self) -> SpeechUnits:
        """Collapse runs of equal HuBERT units (aligned streams keep the first value of each run)."""
        h = self.hubert
        if len(h) == 0:
            return self
        keep = np.ones(len(h), dtype=bool)
        keep[1:] = h[1:] != h[:-1]
        if not self.aligned:
            return SpeechUnits(h[keep], self.pitch, self.style, False, self.audio)
        def pick(a):
            return (None if a is None else a[keep])
        return SpeechUnits(h[keep], pick(self.pitch), pick(self.style), True, self.audio)

    @staticmethod
    def concatenate(parts: list[SpeechUnits]) -> SpeechUnits:
        if not parts:
            raise ValueError("concatenate needs at least one SpeechUnits")
        aligned = {p.aligned for p in parts}
        expressive = {p.pitch is not None for p in parts}
        if len(aligned) > 1 or len(expressive) > 1:
            raise ValueError("cannot concatenate SpeechUnits of different forms (aligned/raw, Base/Expressive)")

        def cat(name):
            vals = [getattr(p, name) for p in parts]
            return None if vals[0] is None else np.concatenate(vals)

        return SpeechUnits(cat("hubert"), cat("pitch"), cat("style"), parts[0].aligned)
