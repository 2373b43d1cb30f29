"""Sizes and conditioning of a unit HiFi-GAN, and the official `config.json` key names.

A unit vocoder turns one vector per 40 ms frame (25 Hz, hop 640 samples) into 640 samples of
audio. The frame vector is a concatenation of embeddings, each `embedding_dim` wide::

    Base        [unit | speaker | global style]              3 x 128 = 384 channels
    Expressive  [unit | pitch code | style code | speaker]   4 x 128 = 512 channels

The HiFi-GAN stack then upsamples by `prod(upsample_rates)` (640 for every Spirit vocoder, e.g.
5 * 4 * 4 * 4 * 2), halving the channels at each stage.

The official release stores these sizes in a speech-resynthesis style `config.json`; the keys it
reads are mirrored by `to_official()` / `from_official()`. Keys that only training used (learning
rate, segment size, ...) are ignored when loading.

    >>> cfg = VocoderConfig.preset("tiny")
    >>> cfg.hop_length, cfg.in_channels
    (640, 24)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

OFFICIAL_DEFAULT_SPEAKERS = 200
OFFICIAL_DEFAULT_STYLES = 100


@dataclass(frozen=True)
class VocoderConfig:
    """A unit HiFi-GAN. A count of 0 turns that conditioning off."""

    num_embeddings: int = 501  # HuBERT units (500 + the blank class the LM also reserves)
    embedding_dim: int = 128
    upsample_rates: tuple[int, ...] = (5, 4, 4, 4, 2)
    upsample_kernel_sizes: tuple[int, ...] = (11, 8, 8, 8, 4)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    num_speakers: int = 0  # speaker embedding (official "multispkr")
    num_styles: int = 0  # one global style per utterance (official "multistyle", Base)
    num_f0_tokens: int = 0  # pitch codes per frame (Expressive)
    num_style_tokens: int = 0  # style codes per frame (Expressive)
    code_hop_size: int = 640
    f0_hop_size: int = 1280  # 12.5 Hz pitch codes -> 2 frames each
    style_hop_size: int = 16000  # 1 Hz style codes -> 25 frames each
    duration_predictor: bool = True
    dur_hidden_dim: int = 128
    dur_kernel_size: int = 3
    dur_dropout: float = 0.5
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        for name in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        object.__setattr__(self, "resblock_dilation_sizes",
                           tuple(tuple(int(d) for d in ds) for ds in self.resblock_dilation_sizes))
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes) or not self.upsample_rates:
            raise ValueError(f"upsample_rates {self.upsample_rates} and upsample_kernel_sizes "
                             f"{self.upsample_kernel_sizes} must be non-empty and of equal length")
        for u, k in zip(self.upsample_rates, self.upsample_kernel_sizes):
            if k < u or (k - u) % 2:
                raise ValueError(f"upsample kernel {k} for rate {u}: need kernel >= rate and an even "
                                 "difference, so that each stage multiplies the length exactly")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes) or not self.resblock_kernel_sizes:
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes must be non-empty, equal length")
        if self.upsample_initial_channel // 2 ** len(self.upsample_rates) < 1:
            raise ValueError(f"upsample_initial_channel {self.upsample_initial_channel} is too small for "
                             f"{len(self.upsample_rates)} halving stages")
        if self.hop_length != self.code_hop_size:
            raise ValueError(f"prod(upsample_rates) = {self.hop_length} must equal code_hop_size "
                             f"{self.code_hop_size} (one frame per unit)")
        if self.dur_kernel_size % 2 == 0:
            raise ValueError(f"dur_kernel_size must be odd, got {self.dur_kernel_size}")

    # -- derived sizes ------------------------------------------------------------------------
    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_rates)

    @property
    def n_conditions(self) -> int:
        """How many embeddings are concatenated per frame."""
        return 1 + sum(n > 0 for n in (self.num_f0_tokens, self.num_style_tokens,
                                       self.num_speakers, self.num_styles))

    @property
    def in_channels(self) -> int:
        return self.embedding_dim * self.n_conditions

    @property
    def pitch_ratio(self) -> int:
        """Frames per pitch code (official `hubert_to_f0`)."""
        return round(self.f0_hop_size / self.code_hop_size)

    @property
    def style_ratio(self) -> int:
        """Frames per style code (official `hubert_to_style`)."""
        return round(self.style_hop_size / self.code_hop_size)

    @property
    def is_expressive(self) -> bool:
        return self.num_f0_tokens > 0 or self.num_style_tokens > 0

    # -- presets --------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> VocoderConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown vocoder preset {name!r}; valid: {', '.join(sorted(PRESETS))}")
        return PRESETS[name]

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["resblock_dilation_sizes"] = [list(ds) for ds in self.resblock_dilation_sizes]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> VocoderConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown vocoder config keys {unknown}; valid: {sorted(known)}")
        return cls(**d)

    def to_official(self) -> dict:
        """The official `config.json` model keys for this config."""
        out: dict = {
            "resblock": "1",
            "upsample_rates": list(self.upsample_rates),
            "upsample_kernel_sizes": list(self.upsample_kernel_sizes),
            "upsample_initial_channel": self.upsample_initial_channel,
            "resblock_kernel_sizes": list(self.resblock_kernel_sizes),
            "resblock_dilation_sizes": [list(d) for d in self.resblock_dilation_sizes],
            "model_in_dim": self.in_channels,
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "code_hop_size": self.code_hop_size,
            "sampling_rate": self.sample_rate,
        }
        if self.num_speakers:
            out.update(multispkr=True, num_speakers=self.num_speakers)
        if self.num_styles:
            out.update(multistyle=True, num_styles=self.num_styles)
        if self.num_f0_tokens:
            out.update(num_f0_tokens=self.num_f0_tokens, f0_hop_size=self.f0_hop_size)
        if self.num_style_tokens:
            out.update(num_style_tokens=self.num_style_tokens, style_hop_size=self.style_hop_size)
        if self.duration_predictor:
            out["dur_predictor_params"] = {
                "encoder_embed_dim": self.embedding_dim, "var_pred_hidden_dim": self.dur_hidden_dim,
                "var_pred_kernel_size": self.dur_kernel_size, "var_pred_dropout": self.dur_dropout}
        return out

    @classmethod
    def from_official(cls, cfg: dict) -> VocoderConfig:
        """Read an official `config.json` dict (training-only keys are ignored)."""
        if str(cfg.get("resblock", "1")) != "1":
            raise ValueError(f"only HiFi-GAN resblock type '1' is used by the Spirit vocoders, got {cfg['resblock']!r}")
        for key in ("f0", "embedder_params", "f0_quant_num_bin"):
            if cfg.get(key):
                raise ValueError(f"config key {key!r} (continuous f0 / speaker embedder) is not used by the Spirit "
                                 "vocoders and is not supported")
        missing = [k for k in ("upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel",
                               "resblock_kernel_sizes", "resblock_dilation_sizes", "num_embeddings",
                               "embedding_dim") if k not in cfg]
        if missing:
            raise ValueError(f"official vocoder config.json lacks required keys {missing}")
        dur = cfg.get("dur_predictor_params") or None
        if dur and dur["encoder_embed_dim"] != cfg["embedding_dim"]:
            raise ValueError("dur_predictor_params.encoder_embed_dim must equal embedding_dim")
        out = cls(
            num_embeddings=cfg["num_embeddings"], embedding_dim=cfg["embedding_dim"],
            upsample_rates=cfg["upsample_rates"], upsample_kernel_sizes=cfg["upsample_kernel_sizes"],
            upsample_initial_channel=cfg["upsample_initial_channel"],
            resblock_kernel_sizes=cfg["resblock_kernel_sizes"],
            resblock_dilation_sizes=cfg["resblock_dilation_sizes"],
            num_speakers=cfg.get("num_speakers", OFFICIAL_DEFAULT_SPEAKERS) if cfg.get("multispkr") else 0,
            num_styles=cfg.get("num_styles", OFFICIAL_DEFAULT_STYLES) if cfg.get("multistyle") else 0,
            num_f0_tokens=cfg.get("num_f0_tokens") or 0, num_style_tokens=cfg.get("num_style_tokens") or 0,
            code_hop_size=cfg.get("code_hop_size", 640), f0_hop_size=cfg.get("f0_hop_size", 1280),
            style_hop_size=cfg.get("style_hop_size", 16000), duration_predictor=dur is not None,
            dur_hidden_dim=dur["var_pred_hidden_dim"] if dur else 128,
            dur_kernel_size=dur["var_pred_kernel_size"] if dur else 3,
            dur_dropout=dur["var_pred_dropout"] if dur else 0.5,
            sample_rate=cfg.get("sampling_rate", 16000))
        in_dim = cfg.get("model_in_dim", 80)
        if in_dim != out.in_channels:
            raise ValueError(f"config.json model_in_dim={in_dim} but the conditioning adds up to "
                             f"{out.in_channels} channels ({out.n_conditions} x embedding_dim {out.embedding_dim})")
        return out


_BASE = VocoderConfig(num_speakers=OFFICIAL_DEFAULT_SPEAKERS, num_styles=OFFICIAL_DEFAULT_STYLES)
_EXPRESSIVE = VocoderConfig(num_speakers=OFFICIAL_DEFAULT_SPEAKERS, num_f0_tokens=64, num_style_tokens=100)
_MINI = dict(embedding_dim=64, upsample_initial_channel=128, upsample_rates=(8, 5, 4, 4),
             upsample_kernel_sizes=(16, 11, 8, 8), resblock_kernel_sizes=(3, 7),
             resblock_dilation_sizes=((1, 3, 5), (1, 3, 5)), dur_hidden_dim=64)
_TINY = dict(embedding_dim=8, upsample_initial_channel=16, upsample_rates=(10, 8, 8),
             upsample_kernel_sizes=(20, 16, 16), resblock_kernel_sizes=(3, 5),
             resblock_dilation_sizes=((1, 3), (1, 2)), dur_hidden_dim=8, num_embeddings=32)

PRESETS: dict[str, VocoderConfig] = {
    "base": _BASE,
    "expressive": _EXPRESSIVE,
    "mini": replace(_BASE, num_speakers=16, num_styles=8, **_MINI),
    "mini_expressive": replace(_EXPRESSIVE, num_speakers=16, **_MINI),
    "tiny": replace(_BASE, num_speakers=4, num_styles=10, **_TINY),
    "tiny_expressive": replace(_EXPRESSIVE, num_speakers=4, num_f0_tokens=16, num_style_tokens=12, **_TINY),
}
"""Official-compatible sizes (base, expressive), a CPU-trainable size (mini*) and a test size (tiny*)."""
