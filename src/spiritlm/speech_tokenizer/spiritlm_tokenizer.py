"""The official `SpiritLMTokenizer` surface (dicts of strings), on top of `spiritlm.speech`.

Notebooks and scripts written for the release call these methods with these shapes::

    tok.encode_units("a.wav")    -> {'audio': '/abs/a.wav', 'hubert': '99 49 ...', 'pitch': '...', 'style': '...'}
    tok.encode_string(wav)       -> '[St71][Pi39][Hu99][Hu49]...'     (= tok(wav))
    tok.string2units(string)     -> {'hubert': '99 49 ...', 'pitch': '39 39 ...', 'style': '71 71 ...'}
    tok.decode(string_or_units, speaker_id=2, dur_pred=True) -> np.ndarray (16 kHz float32)

Differences from the release, each documented: `string2units` picks the missing style
deterministically (71) unless `missing_style="random"`; models live in the object (no module
singletons); `device` is an argument (default CPU).
"""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch

from ..speech.tokenizer import SpeechTokenizer
from ..tokens import DEFAULT_MISSING_STYLE, interleave, parse_unit_string, tokens_to_units
from ..tokens import format_tokens as _format_tokens
from ..units import HUBERT_STRING_RATE, PITCH_RATE, STYLE_RATE, SpeechUnits

logger = logging.getLogger(__name__)


def units_to_string(units: dict, has_pitch: bool = False, has_style: bool = False,
                    hubert_rate: float = HUBERT_STRING_RATE, hubert_dedup: bool = True, hubert_key: str = "hubert",
                    pitch_rate: float = PITCH_RATE, pitch_dedup: bool = True, pitch_key: str = "pitch",
                    style_rate: float = STYLE_RATE, style_dedup: bool = False, style_key: str = "style") -> str:
    """Official module function: a dict of unit strings -> the interleaved token string.

    As in the release, pitch and style are only used when `has_pitch` / `has_style` say so.
    """
    if hubert_key not in units:
        raise ValueError(f"units dict has no {hubert_key!r} stream (keys: {sorted(units)})")
    su = SpeechUnits(units[hubert_key], units[pitch_key] if has_pitch else None,
                     units[style_key] if has_style else None)
    return _format_tokens(interleave(su, hubert_rate, pitch_rate or PITCH_RATE, style_rate or STYLE_RATE,
                                     hubert_dedup, bool(pitch_dedup), bool(style_dedup)))


def string_to_units(gen: str, hubert_key: str = "hubert", pitch_key: str = "pitch", style_key: str = "style",
                    duplicate_hubert_for_multiple_pitch: bool = False,
                    missing_style: int | str | None = DEFAULT_MISSING_STYLE,
                    rng: random.Random | None = None) -> dict[str, str]:
    """Official module function: token string -> dict of space-separated units, one per Hu token.

    `missing_style` (not in the release) is the style used when pitch is present but style is not:
    71 by default; "random" gives the official random choice among 71, 68, 98.
    """
    su = tokens_to_units(parse_unit_string(gen), duplicate_hubert_for_multiple_pitch, missing_style, rng)
    out = {hubert_key: " ".join(map(str, su.hubert.tolist()))}
    if su.pitch is not None:
        out[pitch_key] = " ".join(map(str, su.pitch.tolist()))
    if su.style is not None:
        out[style_key] = " ".join(map(str, su.style.tolist()))
    return out


class SpiritLMTokenizer:
    """Official-style tokenizer object: a `SpeechTokenizer` plus a lazily loaded vocoder."""

    def __init__(self, tokenizer: SpeechTokenizer, vocoder_path: str | os.PathLike | None = None,
                 default_speaker: int = 2, default_style: int | None = None,
                 missing_style: int | str | None = DEFAULT_MISSING_STYLE, device: str = "cpu",
                 compat: bool = False) -> None:
        self.tokenizer = tokenizer
        self.compat = compat  # decode with the official vocoder rules exactly (see vocoder/decode.py)
        self.vocoder_path = vocoder_path
        self.default_speaker = default_speaker
        self.default_style = default_style
        self.missing_style = missing_style
        self.device = device
        self._vocoder = None

    @property
    def is_expressive(self) -> bool:
        return self.tokenizer.is_expressive

    @property
    def has_style(self) -> bool:
        return self.tokenizer.style is not None

    # ------------------------------------------------------------------ encoding

    def encode_units(self, audio, channel_id: int | None = None) -> dict[str, str]:
        """Official dict of unit strings; a path input adds 'audio' (absolute path)."""
        return self.tokenizer.encode_units(audio, channel=channel_id).to_official_dict()

    def encode_speech_units(self, audio, channel_id: int | None = None) -> SpeechUnits:
        """Typed form of `encode_units`."""
        return self.tokenizer.encode_units(audio, channel=channel_id)

    def units2string(self, units: dict | SpeechUnits) -> str:
        if isinstance(units, SpeechUnits):
            units = units.to_official_dict()
        return units_to_string(units, has_pitch=self.is_expressive, has_style=self.has_style)

    def encode_string(self, audio) -> str:
        return self.units2string(self.encode_units(audio))

    def __call__(self, audio) -> str:
        return self.encode_string(audio)

    def string2units(self, gen: str, duplicate_hubert_for_multiple_pitch: bool = False,
                     missing_style: int | str | None = None) -> dict[str, str]:
        style = self.missing_style if missing_style is None else missing_style
        return string_to_units(gen, duplicate_hubert_for_multiple_pitch=duplicate_hubert_for_multiple_pitch,
                               missing_style=style)

    # ------------------------------------------------------------------ decoding

    @property
    def vocoder(self):
        if self._vocoder is None:
            if self.vocoder_path is None:
                raise ValueError("this tokenizer has no vocoder: give vocoder_path= to decode units to audio")
            from ..vocoder import load_vocoder

            kwargs = {"default_speaker": self.default_speaker, "device": self.device}
            if self.default_style is not None:
                kwargs["default_style"] = self.default_style
            self._vocoder = load_vocoder(self.vocoder_path, **kwargs)
        return self._vocoder

    def decode(self, code: str | dict | SpeechUnits, speaker_id: int = 2, dur_pred: bool = True,
               compat: bool | None = None) -> np.ndarray:
        """Token string or units -> 16 kHz float32 waveform (the vocoder applies the official rules).
        `compat` (default: the object's, set by the factories' `compat=`) decodes as the official code does."""
        compat = self.compat if compat is None else compat
        if isinstance(code, str) and not compat:  # compat: the vocoder parses it the official way
            code = tokens_to_units(parse_unit_string(code), missing_style=self.missing_style)
        return self.vocoder.decode(code, speaker_id=speaker_id, dur_pred=dur_pred, compat=compat)


class HubertTokenizer:
    """Official `spiritlm_hubert()` object: waveform -> HuBERT unit tensor (`dense=True`: features)."""

    def __init__(self, tokenizer: SpeechTokenizer) -> None:
        self.tokenizer = tokenizer

    @property
    def hubert_model(self):
        return self.tokenizer.hubert

    @property
    def quantizer_model(self):
        return self.tokenizer.quantizer

    @torch.inference_mode()
    def __call__(self, x, dense: bool = False) -> torch.Tensor:
        chunks = self.tokenizer.chunks(self.tokenizer.load(x))
        if dense:
            feats = [self.tokenizer.hubert(torch.from_numpy(c)[None].to(self.tokenizer.device))[0][0] for c in chunks]
            return torch.cat(feats) if feats else torch.zeros(0, self.tokenizer.hubert.dim)  # [F, D]
        units = self.tokenizer.hubert_units(chunks)
        return torch.from_numpy(np.concatenate(units) if units else np.zeros(0, np.int64))  # [F]

    def encode(self, wav) -> np.ndarray:
        return self.tokenizer.encode_units(wav).hubert
