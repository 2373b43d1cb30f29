"""The pitch tokenizer: waveform -> F0 contour (200 Hz) -> VQ-VAE codes (12.5 Hz), Spirit's `[Pi..]` units.

Pipeline for one utterance (16 kHz, 1-D float32)::

    wav [N] ──F0 extractor (hop 80)──▶ f0, vuv [N // 80 + 1]
        ──features──▶ x [1, 2, T]  (f0 in Hz, optionally minus the speaker / utterance mean; vuv 0/1)
        ──VQ-VAE encoder + nearest code──▶ codes [T // 16]

so a 9.135 s file (146,160 samples) gives 1828 frames and 114 codes. Audio longer than 100 s is
cut into 100 s chunks and chunks under 1280 samples (80 ms) are skipped, as the official tokenizer
does; a chunk shorter than one code (16 frames, i.e. under 1200 samples) gives no code.

Feature options (the official `features` string): ``f0_interp,vuv`` | ``f0,vuv`` |
``norm_f0_interp,vuv`` | ``norm_f0,vuv``. ``norm_`` (or ``speaker_norm``) subtracts the speaker's
mean F0 (``speaker_stats``) or, failing that, the mean over the utterance's voiced frames, from the
non-zero F0 values. The official tokenizer always interpolates F0 through unvoiced frames, whatever the
string says; `load` keeps that for Meta's folders, our own checkpoints interpolate only for
``*_interp`` features. An utterance with no voiced frame is left un-normalised (the official code
would produce NaN there).

Two checkpoint formats load through the one door, `load(path)`, and `PitchTokenizer.save(path, format=)`
writes either:

* official ``vqvae_f0_quantizer/``: ``config.yaml`` (OmegaConf) + ``model.pt`` = ``{"model": state_dict}``;
* ours: ``config.json`` (`PitchConfig`) + ``model.safetensors``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..audio import split_chunks
from ..checkpoints import check_save_format, resolve_speech_part
from .f0 import F0_METHODS, HOP_LENGTH, F0Contour, as_waveform, load_f0_extractor
from .vqvae import VQVAE, VQVAEConfig

logger = logging.getLogger(__name__)

FEATURES = ("f0_interp,vuv", "f0,vuv", "norm_f0_interp,vuv", "norm_f0,vuv")
CONFIG_FORMAT = "spiritlm-pitch-vqvae"
OFFICIAL_DIR_NAME = "vqvae_f0_quantizer"


@dataclass(frozen=True)
class PitchConfig:
    """Everything needed to rebuild a pitch tokenizer; stored as config.json beside the weights."""

    vqvae: VQVAEConfig = field(default_factory=VQVAEConfig)
    features: str = "norm_f0_interp,vuv"
    f0_method: str = "fcpe"
    hop_length: int = HOP_LENGTH
    interpolate: bool = True
    speaker_norm: bool = False
    speaker_stats: dict[str, float] = field(default_factory=dict)  # speaker -> mean F0 (Hz)

    def __post_init__(self) -> None:
        if self.features not in FEATURES:
            raise ValueError(f"unknown pitch features {self.features!r}; valid: {', '.join(FEATURES)}")
        if self.f0_method not in F0_METHODS:
            raise ValueError(f"unknown F0 method {self.f0_method!r}; valid: {', '.join(F0_METHODS)}")

    @property
    def normalize(self) -> bool:
        return self.speaker_norm or "norm_" in self.features

    @classmethod
    def preset(cls, name: str, **overrides) -> PitchConfig:
        """A pitch config around a VQ-VAE preset ("spirit", "tiny"); interpolation follows `features`."""
        features = overrides.pop("features", cls.features)
        return cls(vqvae=VQVAEConfig.preset(name), features=features, interpolate="_interp" in features, **overrides)

    def to_dict(self) -> dict:
        return {"format": CONFIG_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> PitchConfig:
        d = dict(d)
        fmt = d.pop("format", None)
        if fmt != CONFIG_FORMAT:
            raise ValueError(f"config format {fmt!r} is not a pitch tokenizer config ({CONFIG_FORMAT!r})")
        return cls(**{**d, "vqvae": VQVAEConfig.from_dict(d["vqvae"])})


class PitchTokenizer:
    """Waveform -> pitch units at 12.5 Hz. See the module docstring."""

    def __init__(self, config: PitchConfig, model: VQVAE | None = None, device: str = "cpu") -> None:
        self.config = config
        self.model = (model or VQVAE(config.vqvae)).eval().to(device)
        self.device = device
        self.f0_extractor = load_f0_extractor(config.f0_method, config.hop_length, config.interpolate, device)

    # ---- saving (loading: the module's `load`) ------------------------------------------------
    def save(self, path: str | os.PathLike, format: str = "ours") -> Path:
        """"ours": config.json (`PitchConfig`) + model.safetensors; "official": Meta's layout, config.yaml +
        model.pt = {"model": state_dict} and speaker stats as speaker_stats.pt {speaker: {"f0_mean": tensor}},
        loadable by the official F0Tokenizer."""
        check_save_format(format, "a pitch tokenizer")
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        if format == "ours":
            from safetensors.torch import save_file

            save_file(state, str(d / "model.safetensors"))
            (d / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2))
            return d
        import yaml

        vq = self.config.vqvae.to_dict()
        cfg = {"encoder_params": vq["encoder"], "vq_params": vq["vq"], "decoder_params": vq["decoder"],
               "features": self.config.features, "speaker_norm": self.config.speaker_norm}
        if self.config.speaker_stats:
            stats = {spk: {"f0_mean": torch.tensor(m)} for spk, m in self.config.speaker_stats.items()}
            torch.save(stats, d / "speaker_stats.pt")
            cfg["speaker_stats"] = str((d / "speaker_stats.pt").resolve())
        (d / "config.yaml").write_text(yaml.safe_dump(_plain(cfg), sort_keys=False))
        torch.save({"model": state}, d / "model.pt")
        return d

    # ---- encoding -------------------------------------------------------------------------------
    def extract_f0(self, wav: np.ndarray) -> F0Contour:
        return self.f0_extractor.extract(wav)

    def features(self, contour: F0Contour, speaker: str | None = None) -> torch.Tensor:
        """[f0, vuv] -> the VQ-VAE input [1, 2, T] (float32), normalised as the config says.

        Arithmetic runs in the contour's own dtype (float32 FCPE, float64 pYAAPT), as officially."""
        f0 = torch.from_numpy(contour.f0.copy())  # [T]
        vuv = torch.from_numpy(np.asarray(contour.vuv)).to(f0.dtype)  # [T]
        if self.config.normalize:
            voiced = vuv != 0
            if speaker is not None and speaker in self.config.speaker_stats:
                mean = torch.tensor(self.config.speaker_stats[speaker], dtype=f0.dtype)
            elif bool(voiced.any()):
                mean = torch.mean(f0[voiced])
            else:  # no voiced frame: nothing to normalise against
                mean = torch.zeros((), dtype=f0.dtype)
            nonzero = f0 != 0
            f0[nonzero] = f0[nonzero] - mean
        return torch.stack([f0, vuv]).float()[None]  # [1, 2, T]

    def encode_chunk(self, wav: np.ndarray, speaker: str | None = None) -> np.ndarray:
        """One chunk (no splitting) -> [T // 80 + 1) // 16] int64 codes."""
        x = self.features(self.extract_f0(wav), speaker).to(self.device)
        return self.model.encode(x)[0].cpu().numpy().astype(np.int64)

    def encode(self, wav: np.ndarray, speaker: str | None = None) -> np.ndarray:
        """1-D float32 16 kHz waveform -> pitch units [n] int64 at 12.5 Hz (100 s chunks, official rules)."""
        wav = as_waveform(wav, "audio for the pitch tokenizer")
        codes = [self.encode_chunk(chunk, speaker) for chunk in split_chunks(wav)]
        return np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)

    __call__ = encode

    def num_codes(self, n_samples: int) -> int:
        """How many codes `encode` returns for `n_samples` samples (without chunking)."""
        return (n_samples // self.config.hop_length + 1) // self.config.vqvae.hop


def _plain(v):
    """Tuples -> lists, recursively (YAML of plain types)."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return [_plain(x) for x in v] if isinstance(v, (list, tuple)) else v


def is_official(folder: str | os.PathLike) -> bool:
    """Whether a pitch folder is in Meta's layout (config.yaml + model.pt) rather than ours."""
    d = Path(folder)
    return (d / "config.yaml").is_file() and (d / "model.pt").is_file() and not (d / "config.json").is_file()


def load(path: str | os.PathLike, f0_method: str | None = None, device: str = "cpu",
         trust_pickle: bool = False) -> PitchTokenizer:
    """The one door to a pitch tokenizer, by path or by name under $SPIRITLM_CHECKPOINTS_DIR/speech_tokenizer/:
    Meta's folder (config.yaml + model.pt; F0 by `f0_method`, default "fcpe", interpolated as officially)
    or ours (config.json + model.safetensors; `f0_method` overrides its saved extractor)."""
    d = resolve_speech_part(path, OFFICIAL_DIR_NAME)
    if not d.is_dir():
        raise FileNotFoundError(f"a pitch tokenizer is a folder; {d} is a file")
    if (d / "config.json").is_file():
        return _read_ours(d, f0_method, device)
    if is_official(d):
        return _read_official(d, f0_method or "fcpe", device, trust_pickle)
    raise FileNotFoundError(f"{d} holds neither config.json + model.safetensors (ours) nor "
                            f"config.yaml + model.pt (official); it has {sorted(p.name for p in d.iterdir())}")


def _read_official(d: Path, f0_method: str, device: str, trust_pickle: bool) -> PitchTokenizer:
    import yaml

    cfg = yaml.safe_load((d / "config.yaml").read_text())
    stats = _load_official_speaker_stats(cfg.get("speaker_stats"), d)
    config = PitchConfig(vqvae=VQVAEConfig.from_official(cfg), features=cfg.get("features", "f0_interp,vuv"),
                         f0_method=f0_method, hop_length=HOP_LENGTH, interpolate=True,
                         speaker_norm=bool(cfg.get("speaker_norm", False)), speaker_stats=stats)
    ckpt = _torch_load(d / "model.pt", trust_pickle)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise ValueError(f"{d / 'model.pt'} is not an official VQ-VAE checkpoint (expected a dict with 'model')")
    model = VQVAE(config.vqvae)
    model.load_state_dict(ckpt["model"], strict=True)
    logger.info("loaded official F0 VQ-VAE from %s (%s, %d codes)", d, config.features, config.vqvae.vq.l_bins)
    return PitchTokenizer(config, model, device)


def _read_ours(d: Path, f0_method: str | None, device: str) -> PitchTokenizer:
    from safetensors.torch import load_file

    config = PitchConfig.from_dict(json.loads((d / "config.json").read_text()))
    if f0_method is not None:
        config = replace(config, f0_method=f0_method)
    model = VQVAE(config.vqvae)
    model.load_state_dict(load_file(str(d / "model.safetensors")), strict=True)
    return PitchTokenizer(config, model, device)


def _torch_load(path: Path, trust_pickle: bool):
    from ..torch_files import load_torch_file

    return load_torch_file(path, "the F0 VQ-VAE", allow_pickle=trust_pickle,
                           hint="pass trust_pickle=True if you trust the file")


def _load_official_speaker_stats(stats_path, folder: Path) -> dict[str, float]:
    """Official speaker stats: a torch file {speaker: {"f0_mean": value, ...}}; missing file -> none."""
    if not stats_path:
        return {}
    p = Path(stats_path)
    p = p if p.is_file() else folder / p.name
    if not p.is_file():
        logger.info("speaker stats %s not found: the utterance mean F0 will be used", stats_path)
        return {}
    from ..torch_files import load_torch_file

    raw = load_torch_file(p, "the pitch speaker statistics")
    return {str(spk): float(torch.as_tensor(v["f0_mean"])) for spk, v in raw.items()}
