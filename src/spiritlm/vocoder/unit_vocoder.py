"""`UnitVocoder`: the user-facing vocoder (implements `spiritlm.generation.interfaces.Vocoder`).

    >>> voc = load_vocoder("checkpoints/speech_tokenizer/hifigan_spiritlm_base")  # doctest: +SKIP
    >>> wav = voc.decode("[Hu99][Hu49][Hu38]", speaker_id="ex02")                 # doctest: +SKIP

It owns one `CodeHiFiGAN` in eval mode (weight norm folded), the speaker / style name lists of its
folder, and the defaults the official factories use (speaker 2; Base style 8, "conv-default").
`synthesize` takes typed `SpeechUnits`, `decode` also takes the official token strings and units
dicts (rules in `decode.py`), `stream` yields the same waveform in pieces (`streaming.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import check_save_format
from ..units import SAMPLE_RATE, SpeechUnits
from .config import VocoderConfig
from .convert import load_folder, read_names, save_folder, save_official
from .decode import SynthesisPlan, plan_decode, plan_units
from .hifigan import CodeHiFiGAN
from .streaming import stream_frames, stream_stateful

logger = logging.getLogger(__name__)

DEFAULT_SPEAKER = 2
DEFAULT_STYLE = 8  # "conv-default" in the Base vocoder's styles.txt
STREAM_MODES = {"stateful": stream_stateful, "context": stream_frames}


def resolve_id(value: int | str | None, default: int | None, names: list[str] | None, size: int,
               what: str, strict: bool = True) -> int | None:
    """A speaker/style given by id, by name or not at all -> a valid id (or None if unused)."""
    if size == 0:
        if value is not None:
            raise ValueError(f"this vocoder has no {what} conditioning; do not pass a {what}")
        return None
    value = default if value is None else value
    valid = len(names) if names and strict else size
    if isinstance(value, str):
        if names and value in names:
            return names.index(value)
        if not value.strip().isdigit():
            listing = ", ".join(f"{i}={n}" for i, n in enumerate(names)) if names else f"ids 0..{size - 1}"
            raise ValueError(f"unknown {what} {value!r}; valid: {listing}")
        value = int(value)
    if isinstance(value, (bool, float)) or not isinstance(value, (int, np.integer)) or not 0 <= value < valid:
        listing = ", ".join(f"{i}={n}" for i, n in enumerate(names[:valid])) if names else ""
        raise ValueError(f"unknown {what} id {value!r}; valid: 0..{valid - 1}" + (f" ({listing})" if listing else ""))
    return int(value)


class UnitVocoder:
    """Units -> 16 kHz float32 waveform with a unit HiFi-GAN."""

    sample_rate: int = SAMPLE_RATE

    def __init__(self, model: CodeHiFiGAN, speakers: list[str] | None = None, styles: list[str] | None = None,
                 default_speaker: int | str = DEFAULT_SPEAKER, default_style: int | str = DEFAULT_STYLE,
                 device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.model.remove_weight_norm()
        self.device = torch.device(device)
        self.speakers, self.styles = speakers, styles
        self.default_speaker, self.default_style = default_speaker, default_style

    @property
    def config(self) -> VocoderConfig:
        return self.model.cfg

    @property
    def is_expressive(self) -> bool:
        return self.config.is_expressive

    # -- ids --------------------------------------------------------------------------------------
    def speaker_index(self, speaker_id: int | str | None = None, strict: bool = True) -> int | None:
        return resolve_id(speaker_id, self.default_speaker, self.speakers, self.config.num_speakers, "speaker", strict)

    def style_index(self, style_id: int | str | None = None, strict: bool = True) -> int | None:
        default = self.default_style if self.config.num_styles else None
        return resolve_id(style_id, default, self.styles, self.config.num_styles, "style", strict)

    # -- synthesis --------------------------------------------------------------------------------
    def _ids(self, values: np.ndarray | None) -> torch.Tensor | None:
        return None if values is None else torch.as_tensor(values, dtype=torch.long, device=self.device)[None]

    def features(self, plan: SynthesisPlan, speaker: int | None, style: int | None) -> torch.Tensor:
        """Plan -> frame features [1, C, T'] (durations applied when the plan asks for them)."""
        m = self.model
        units = self._ids(plan.units)
        spk, sty = (None if v is None else torch.tensor([v], device=self.device) for v in (speaker, style))
        with torch.inference_mode():
            cond = m.conditioning(units, self._ids(plan.pitch), self._ids(plan.style), spk, sty)
            if plan.predict_durations:
                durations = m.predict_durations(units)  # [1, T]
                cond = torch.repeat_interleave(cond, durations[0], dim=2)
        return cond

    def _render(self, plan: SynthesisPlan, speaker: int | None, style: int | None) -> np.ndarray:
        if len(plan.units) == 0:
            return np.zeros(0, dtype=np.float32)
        cond = self.features(plan, speaker, style)
        with torch.inference_mode():
            wav = self.model.stack(cond)[0]
        return wav.float().cpu().numpy()

    def synthesize(self, units: SpeechUnits, speaker_id: int | str | None = None,
                   style_id: int | str | None = None) -> np.ndarray:
        """Aligned units -> durations predicted on deduplicated units; raw units -> one frame per unit."""
        plan = plan_units(units, self.config)
        return self._render(plan, self.speaker_index(speaker_id), self.style_index(style_id))

    def decode(self, code: str | SpeechUnits | dict, speaker_id: int | str | None = None,
               style_id: int | str | None = None, dur_pred: bool = True, compat: bool = False) -> np.ndarray:
        """The official `decode()`: a token string, units dict or `SpeechUnits` -> waveform.

        `compat=True` reproduces the official behaviour exactly (see `decode.py`), including
        accepting any speaker/style id the embedding table holds.
        """
        plan = plan_decode(code, self.config, dur_pred=dur_pred, compat=compat)
        return self._render(plan, self.speaker_index(speaker_id, not compat), self.style_index(style_id, not compat))

    def stream(self, units: SpeechUnits | str | dict, speaker_id: int | str | None = None,
               style_id: int | str | None = None, chunk_units: int = 50, first_chunk_units: int | None = 10,
               dur_pred: bool = True, mode: str = "stateful") -> Iterator[np.ndarray]:
        """Yield waveform pieces whose concatenation equals `synthesize` / `decode` of the same input.

        mode "stateful" runs each layer incrementally (about first_chunk_units frames of audio
        first, then about chunk_units frames per piece); mode "context" re-synthesizes each chunk
        with receptive-field context (exactly first_chunk_units, then chunk_units frames per piece).
        """
        if mode not in STREAM_MODES:
            raise ValueError(f"unknown stream mode {mode!r}; valid: {', '.join(STREAM_MODES)}")
        plan = plan_decode(units, self.config, dur_pred=dur_pred)
        if len(plan.units) == 0:
            return
        cond = self.features(plan, self.speaker_index(speaker_id), self.style_index(style_id))
        with torch.inference_mode():
            for piece in STREAM_MODES[mode](self.model.stack, cond, chunk_units, first_chunk_units):
                yield piece.float().cpu().numpy()

    def frames(self, units: SpeechUnits) -> int:
        """Frames (of `hop_length` samples) that `synthesize(units)` will produce."""
        return int(self.features(plan_units(units, self.config), self.speaker_index(), self.style_index()).shape[-1])

    # -- persistence ------------------------------------------------------------------------------
    def save(self, folder: str | Path, format: str = "ours") -> Path:
        """"ours": config.json + model.safetensors; "official": Meta's config.json + generator.pt.
        (Loading: `vocoder.load_vocoder`, which reads both.)"""
        writer = save_official if check_save_format(format, "a unit HiFi-GAN") == "official" else save_folder
        return writer(folder, self.config, self.model.state_dict(), self.speakers, self.styles)


def folder_defaults(folder: Path, cfg, official: bool) -> tuple[int | str, int | str]:
    """The speaker and style a vocoder uses when none is asked for: the folder's own choice (our config.json's
    "defaults"), else the official ones (speaker 2, style 8 "conv-default") where this vocoder has them, else 0
    (what `spiritlm train vocoder` trains utterances without a style id on)."""
    import json

    if not official:
        chosen = json.loads((folder / "config.json").read_text()).get("defaults", {})
        if chosen:
            return chosen.get("speaker", 0), chosen.get("style", 0)
    speaker = DEFAULT_SPEAKER if DEFAULT_SPEAKER < max(cfg.num_speakers, 1) else 0
    style = DEFAULT_STYLE if official or DEFAULT_STYLE < cfg.num_styles else 0
    return speaker, style


def load_hifigan(path: str | Path, default_speaker: int | str | None = None,
                 default_style: int | str | None = None, device: str | torch.device = "cpu") -> UnitVocoder:
    """A unit HiFi-GAN folder: official (config.json + generator.pt) or ours (model.safetensors).
    Speaker / style used when a call gives none: these arguments, else `folder_defaults`."""
    folder = Path(path)
    cfg, sd, official = load_folder(folder)
    model = CodeHiFiGAN(cfg)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ValueError(f"vocoder weights in {folder} do not match its config.json: "
                         f"missing {sorted(missing)[:8]}, unexpected {sorted(unexpected)[:8]}")
    speakers, styles = read_names(folder / "speakers.txt"), read_names(folder / "styles.txt")
    logger.info("loaded %s vocoder from %s (%s, %d speakers, %d styles, duration predictor: %s)",
                "official" if official else "spiritlm", folder, "Expressive" if cfg.is_expressive else "Base",
                len(speakers or []), len(styles or []), cfg.duration_predictor)
    fs, fst = folder_defaults(folder, cfg, official)
    default_speaker = fs if default_speaker is None else default_speaker
    default_style = fst if default_style is None else default_style
    return UnitVocoder(model, speakers, styles, default_speaker, default_style, device)
