"""Which units reach the generator, and whether durations are predicted: the official decode rules.

Units arrive in two forms (see `spiritlm.units`):

* **aligned** (read back from LM tokens, e.g. ``[St71][Pi39][Hu99][Hu49]``): pitch and style hold
  one value per Hu token and the Hu tokens are deduplicated, so each unit's length in frames is
  unknown -> the duration predictor runs.
* **raw** (tokenizer output at 25 / 12.5 / 1 Hz): one HuBERT unit per 40 ms frame already, so
  durations must *not* be predicted; pitch and style are repeated to the unit rate by the official
  rule (`upsample_codes`): ``repeat(round(hop_code / 640))``, then pad with the last value or cut.

Official `decode()` behaviour (release commit 52fb2f4), reproduced with ``compat=True``:

1. a string goes through `string_to_units` (missing style -> random pick of 71/68/98);
2. if pitch is present and its length differs from the HuBERT length, ``dur_pred`` becomes False;
3. units are *never* deduplicated (`not_dedup_code=True`); with ``dur_pred`` the pitch/style are
   used as they are, without it they are upsampled (so an aligned Expressive string with
   ``dur_pred=False`` fails: it is upsampled twice);
4. Base raw units keep ``dur_pred=True`` and run the predictor on non-deduplicated units.

Our default fixes 1 (style 71), 3 (aligned units are used as they are with ``dur_pred=False``;
duration prediction runs on deduplicated units) and 4 (raw units never get duration prediction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tokens import string_to_units
from ..units import SpeechUnits
from .config import VocoderConfig


@dataclass(frozen=True)
class SynthesisPlan:
    """Codes with one value per generator input step, and whether each step is a deduplicated unit
    whose duration must be predicted."""

    units: np.ndarray  # [T] int64
    pitch: np.ndarray | None  # [T] or None
    style: np.ndarray | None  # [T] or None
    predict_durations: bool


def upsample_codes(codes: np.ndarray, ratio: int, n_frames: int, what: str = "codes") -> np.ndarray:
    """Official rule: repeat each code `ratio` times, pad with the last value or cut to `n_frames`."""
    k = len(codes)
    if k == 0 or abs(k * ratio - n_frames) / ratio > 1:
        raise ValueError(f"{k} {what} cannot be upsampled x{ratio} to {n_frames} unit frames "
                         f"(allowed: |{k}*{ratio} - {n_frames}| <= {ratio}); are the units aligned already?")
    up = np.repeat(np.asarray(codes, dtype=np.int64), ratio)
    if len(up) < n_frames:
        up = np.concatenate([up, np.full(n_frames - len(up), up[-1], dtype=np.int64)])
    return up[:n_frames]


def _select(units: SpeechUnits, cfg: VocoderConfig) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The pitch/style streams this vocoder uses (Base vocoders ignore Expressive streams)."""
    pitch = units.pitch if cfg.num_f0_tokens else None
    style = units.style if cfg.num_style_tokens else None
    if cfg.num_f0_tokens and pitch is None:
        raise ValueError("this Expressive vocoder needs pitch units, but the units have none")
    if cfg.num_style_tokens and style is None:
        raise ValueError("this Expressive vocoder needs style units, but the units have none")
    return pitch, style


def plan_units(units: SpeechUnits, cfg: VocoderConfig, dur_pred: bool = True) -> SynthesisPlan:
    """Our rules: aligned -> dedup + durations (or as-is when dur_pred=False); raw -> upsample, no durations."""
    if units.aligned:
        if dur_pred:
            units = units.dedup_hubert()
        pitch, style = _select(units, cfg)
        return SynthesisPlan(units.hubert, pitch, style, predict_durations=dur_pred)
    pitch, style = _select(units, cfg)
    n = len(units.hubert)
    if pitch is not None:
        pitch = upsample_codes(pitch, cfg.pitch_ratio, n, "pitch codes")
    if style is not None:
        style = upsample_codes(style, cfg.style_ratio, n, "style codes")
    return SynthesisPlan(units.hubert, pitch, style, predict_durations=False)


def plan_units_official(units: SpeechUnits, cfg: VocoderConfig, dur_pred: bool = True) -> SynthesisPlan:
    """The official rules, bugs included (see the module docstring)."""
    hubert = units.hubert
    if units.pitch is not None and len(units.pitch) != len(hubert):
        dur_pred = False
    pitch, style = _select(units, cfg)
    if dur_pred:
        if pitch is not None and len(pitch) != len(hubert):
            raise ValueError(f"f0 must be upsampled first if dedup ({len(pitch)} pitch vs {len(hubert)} units)")
        if style is not None and len(style) != len(hubert):
            raise ValueError(f"style must be upsampled first if dedup ({len(style)} style vs {len(hubert)} units)")
        return SynthesisPlan(hubert, pitch, style, predict_durations=True)
    if pitch is not None:
        pitch = upsample_codes(pitch, cfg.pitch_ratio, len(hubert), "pitch codes")
    if style is not None:
        style = upsample_codes(style, cfg.style_ratio, len(hubert), "style codes")
    return SynthesisPlan(hubert, pitch, style, predict_durations=False)


def as_units(code: str | SpeechUnits | dict, compat: bool = False) -> SpeechUnits:
    """A token string, an official units dict or `SpeechUnits` -> `SpeechUnits`.

    A dict counts as aligned when its pitch stream has the HuBERT length (the official test).
    """
    if isinstance(code, SpeechUnits):
        return code
    if isinstance(code, str):
        return string_to_units(code, missing_style="random" if compat else 71)
    if isinstance(code, dict):
        raw = SpeechUnits.from_official_dict(code)
        aligned = raw.pitch is not None and len(raw.pitch) == len(raw.hubert)
        if aligned and raw.style is not None and len(raw.style) != len(raw.hubert):
            aligned = False
        return SpeechUnits(raw.hubert, raw.pitch, raw.style, aligned=aligned) if aligned else raw
    raise ValueError(f"decode() takes a token string, a units dict or SpeechUnits, got {type(code).__name__}")


def plan_decode(code: str | SpeechUnits | dict, cfg: VocoderConfig, dur_pred: bool = True,
                compat: bool = False) -> SynthesisPlan:
    units = as_units(code, compat)
    if len(units.hubert) == 0:
        raise ValueError("no HuBERT units to decode")
    return plan_units_official(units, cfg, dur_pred) if compat else plan_units(units, cfg, dur_pred)
