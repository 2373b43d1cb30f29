"""The F0 VQ-VAE: turns a dense [f0, vuv] contour (200 Hz) into pitch codes (12.5 Hz).

The architecture is the jukebox / speech-resynthesis one the Spirit release ships::

    x [B, 2, T] ──Encoder──▶ z [B, D, T/16] ──Bottleneck──▶ codes [B, T/16] ──▶ z_q ──Decoder──▶ x̂ [B, 2, T]

* Encoder, per level: ``down_t`` times [Conv1d(kernel 2s, stride s, padding s//2) + Resnet1D], then a
  Conv1d(kernel 3) to the code width. With ``downs_t=[4], strides_t=[2]`` one level divides time by
  2**4 = 16, so 1828 frames (9.135 s) give 114 codes. Resnet1D = ``depth`` residual blocks
  ReLU → Conv1d(3, dilation g**d) → ReLU → Conv1d(1).
* Bottleneck: the nearest codebook row in squared L2 distance; only level 0 gives the pitch units.
* Decoder: the mirror image (Conv1d, then [Resnet1D + ConvTranspose1d] per step, then ``out``).

Module and parameter names follow the official state dict (``encoder.level_blocks.0.model.0.0.weight``,
``vq.level_blocks.0.k``, ``decoder.out.weight``), so an official ``model.pt`` loads with
``load_state_dict(strict=True)``. `VQVAEConfig.from_official` reads the official ``config.yaml``
sections (``encoder_params``, ``vq_params``, ``decoder_params``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

Stride = int | tuple[int, ...]


def _freeze(v):
    return tuple(_freeze(i) for i in v) if isinstance(v, (list, tuple)) else v


@dataclass(frozen=True)
class ConvStackConfig:
    """`encoder_params` / `decoder_params` of the official config (same names)."""

    input_emb_width: int = 2
    output_emb_width: int = 128
    levels: int = 1
    downs_t: tuple[Stride, ...] = (4,)
    strides_t: tuple[Stride, ...] = (2,)
    width: int = 32
    depth: int = 4
    m_conv: float = 1.0
    dilation_growth_rate: int = 3
    dilation_cycle: int | None = None
    zero_out: bool = False
    res_scale: bool = False
    reverse_decoder_dilation: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "downs_t", _freeze(self.downs_t))
        object.__setattr__(self, "strides_t", _freeze(self.strides_t))
        if not (len(self.downs_t) == len(self.strides_t) == self.levels):
            raise ValueError(f"downs_t {self.downs_t} and strides_t {self.strides_t} need one entry per level "
                             f"({self.levels})")

    def level_hop(self, level: int) -> int:
        """Time downsampling of one level."""
        down, stride = self.downs_t[level], self.strides_t[level]
        if isinstance(stride, tuple):
            return math.prod(s**d for s, d in zip(stride, down))
        return stride**down


@dataclass(frozen=True)
class BottleneckConfig:
    """`vq_params`: codebook size, code width, EMA decay and number of levels."""

    l_bins: int = 64
    emb_width: int = 128
    mu: float = 0.99
    levels: int = 1


@dataclass(frozen=True)
class VQVAEConfig:
    encoder: ConvStackConfig = field(default_factory=ConvStackConfig)
    vq: BottleneckConfig = field(default_factory=BottleneckConfig)
    decoder: ConvStackConfig = field(default_factory=ConvStackConfig)

    @property
    def hop(self) -> int:
        """Input frames per code at level 0 (16 for the Spirit model: 200 Hz -> 12.5 Hz)."""
        return self.encoder.level_hop(0)

    @classmethod
    def preset(cls, name: str) -> VQVAEConfig:
        if name not in VQVAE_PRESETS:
            raise ValueError(f"unknown VQ-VAE preset {name!r}; valid: {', '.join(sorted(VQVAE_PRESETS))}")
        return VQVAE_PRESETS[name]

    @classmethod
    def from_official(cls, cfg: dict) -> VQVAEConfig:
        """From the official config.yaml mapping (keys encoder_params, vq_params, decoder_params)."""
        missing = [k for k in ("encoder_params", "vq_params", "decoder_params") if k not in cfg]
        if missing:
            raise ValueError(f"VQ-VAE config lacks {missing}; it has {sorted(cfg)}")
        return cls.from_dict({"encoder": cfg["encoder_params"], "vq": cfg["vq_params"],
                              "decoder": cfg["decoder_params"]})

    @classmethod
    def from_dict(cls, d: dict) -> VQVAEConfig:
        def build(kind, values):
            known = set(kind.__dataclass_fields__)
            values = {k: v for k, v in dict(values).items() if k != "checkpoint_res"}  # unused by forward
            unknown = sorted(set(values) - known)
            if unknown:
                raise ValueError(f"unknown {kind.__name__} keys {unknown}; valid: {sorted(known)}")
            return kind(**values)

        return cls(encoder=build(ConvStackConfig, d["encoder"]), vq=build(BottleneckConfig, d["vq"]),
                   decoder=build(ConvStackConfig, d["decoder"]))

    def to_dict(self) -> dict:
        return asdict(self)


_TINY_STACK = ConvStackConfig(input_emb_width=2, output_emb_width=8, downs_t=(4,), strides_t=(2,), width=8, depth=2,
                              dilation_growth_rate=3)
VQVAE_PRESETS: dict[str, VQVAEConfig] = {
    # ~0.2 M parameters, 64 codes: the size the paper reports for the Spirit pitch quantizer.
    "spirit": VQVAEConfig(),
    "tiny": VQVAEConfig(encoder=_TINY_STACK, vq=BottleneckConfig(l_bins=16, emb_width=8), decoder=_TINY_STACK),
}


class ResBlock1d(nn.Module):
    def __init__(self, channels: int, hidden: int, dilation: int, res_scale: float) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.ReLU(), nn.Conv1d(channels, hidden, 3, 1, dilation, dilation),
                                   nn.ReLU(), nn.Conv1d(hidden, channels, 1))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.model(x)


class Resnet1D(nn.Module):
    def __init__(self, cfg: ConvStackConfig, reverse: bool = False) -> None:
        super().__init__()
        scale = 1.0 / math.sqrt(cfg.depth) if cfg.res_scale else 1.0
        cycle = cfg.dilation_cycle
        blocks = [ResBlock1d(cfg.width, int(cfg.m_conv * cfg.width),
                             cfg.dilation_growth_rate ** (d % cycle if cycle else d), scale) for d in range(cfg.depth)]
        if cfg.zero_out:
            for b in blocks:
                nn.init.zeros_(b.model[-1].weight)
                nn.init.zeros_(b.model[-1].bias)
        self.model = nn.Sequential(*(blocks[::-1] if reverse else blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _steps(down: Stride, stride: Stride) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of every down/up-sampling conv of one level, in encoder order.

    The plain form uses kernel 2s and padding s//2; the per-step list form uses 2s+1 and s//2+1
    for odd strides (as the official code does)."""
    if isinstance(stride, tuple):
        out = []
        for s, d in zip(stride, down):
            k, p = (2 * s, s // 2) if s % 2 == 0 else (2 * s + 1, s // 2 + 1)
            out += [(k, s, p)] * d
        return out
    return [(2 * stride, stride, stride // 2)] * down


class EncoderLevel(nn.Module):
    def __init__(self, cfg: ConvStackConfig, in_width: int, down: Stride, stride: Stride) -> None:
        super().__init__()
        steps = _steps(down, stride)
        blocks: list[nn.Module] = [
            nn.Sequential(nn.Conv1d(in_width if i == 0 else cfg.width, cfg.width, k, s, p), Resnet1D(cfg))
            for i, (k, s, p) in enumerate(steps)
        ]
        if steps or isinstance(stride, tuple):
            blocks.append(nn.Conv1d(cfg.width, cfg.output_emb_width, 3, 1, 1))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class DecoderLevel(nn.Module):
    def __init__(self, cfg: ConvStackConfig, down: Stride, stride: Stride) -> None:
        super().__init__()
        steps = _steps(down, stride)
        first = steps or isinstance(stride, tuple)
        blocks: list[nn.Module] = [nn.Conv1d(cfg.output_emb_width, cfg.width, 3, 1, 1)] if first else []
        for i, (k, s, p) in enumerate(steps):
            out = cfg.output_emb_width if i == len(steps) - 1 else cfg.width
            blocks.append(nn.Sequential(Resnet1D(cfg, reverse=cfg.reverse_decoder_dilation),
                                        nn.ConvTranspose1d(cfg.width, out, k, s, p)))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Encoder(nn.Module):
    def __init__(self, cfg: ConvStackConfig) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(
            EncoderLevel(cfg, cfg.input_emb_width if lv == 0 else cfg.output_emb_width, cfg.downs_t[lv],
                         cfg.strides_t[lv]) for lv in range(cfg.levels))

    def forward(self, x: torch.Tensor, levels: int | None = None) -> list[torch.Tensor]:
        xs = []
        for block in self.level_blocks[:levels]:
            x = block(x)  # [B, D, T / hop_so_far]
            xs.append(x)
        return xs


class Decoder(nn.Module):
    def __init__(self, cfg: ConvStackConfig) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(DecoderLevel(cfg, cfg.downs_t[lv], cfg.strides_t[lv])
                                          for lv in range(cfg.levels))
        self.out = nn.Conv1d(cfg.output_emb_width, cfg.input_emb_width, 3, 1, 1)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        x = xs[-1]
        for lv in reversed(range(len(self.level_blocks))):
            x = self.level_blocks[lv](x)
            if lv != 0:
                x = x + xs[lv - 1]
        return self.out(x)  # [B, C_in, T]


class Codebook(nn.Module):
    """One bottleneck level: `k` [l_bins, emb_width], nearest row in squared L2 distance."""

    def __init__(self, cfg: BottleneckConfig) -> None:
        super().__init__()
        self.emb_width = cfg.emb_width
        self.register_buffer("k", torch.zeros(cfg.l_bins, cfg.emb_width))

    def flatten(self, z: torch.Tensor) -> torch.Tensor:
        """[B, D, T] -> [B*T, emb_width]; a latent twice the code width is split and summed."""
        x = z.permute(0, 2, 1).reshape(-1, z.shape[1])
        if x.shape[-1] == 2 * self.emb_width:
            x = x[:, : self.emb_width] + x[:, self.emb_width:]
        elif x.shape[-1] != self.emb_width:
            raise ValueError(f"latent width {x.shape[-1]} must be 1 or 2 times the code width {self.emb_width}")
        return x

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """[N, D] -> [N] index of the nearest codebook row."""
        k_t = self.k.t()
        dist = (x**2).sum(dim=-1, keepdim=True) - 2 * (x @ k_t) + (k_t**2).sum(dim=0, keepdim=True)  # [N, K]
        return dist.min(dim=-1).indices

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, D, T] -> codes [B, T], quantised latents [B, emb_width, T]."""
        b, _, t = z.shape
        codes = self.nearest(self.flatten(z)).view(b, t)
        return codes, self.lookup(codes)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        return F.embedding(codes, self.k).permute(0, 2, 1)  # [B, emb_width, T]


class Bottleneck(nn.Module):
    def __init__(self, cfg: BottleneckConfig) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(Codebook(cfg) for _ in range(cfg.levels))


@dataclass(frozen=True, eq=False)
class VQVAEOutput:
    codes: list[torch.Tensor]  # per level [B, T_l]
    latents: list[torch.Tensor]  # encoder outputs, per level [B, D, T_l]
    reconstruction: torch.Tensor  # [B, C_in, T]
    commit_loss: torch.Tensor  # scalar, mean over levels


class VQVAE(nn.Module):
    def __init__(self, cfg: VQVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg.encoder)
        self.vq = Bottleneck(cfg.vq)
        self.decoder = Decoder(cfg.decoder)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, T] -> level-0 codes [B, T // hop] (the pitch units)."""
        if x.shape[-1] < self.cfg.hop:
            return torch.zeros(x.shape[0], 0, dtype=torch.long)
        z = self.encoder(x, levels=1)[0]
        return self.vq.level_blocks[0](z)[0]

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Level-0 codes [B, T'] -> reconstruction [B, C_in, T' * hop] (single-level models)."""
        if len(self.vq.level_blocks) != 1:
            raise ValueError(f"decoding level-0 codes needs a 1-level model, not {len(self.vq.level_blocks)} levels")
        return self.decoder([self.vq.level_blocks[0].lookup(codes)])

    def forward(self, x: torch.Tensor) -> VQVAEOutput:
        """Full pass with a straight-through estimator (training and reconstruction)."""
        latents = self.encoder(x)
        codes, quantised, commits = [], [], []
        for block, z in zip(self.vq.level_blocks, latents):
            c, zq = block(z)
            zf = block.flatten(z)
            commits.append(((zq.permute(0, 2, 1).reshape(zf.shape).detach() - zf) ** 2).mean())
            codes.append(c)
            quantised.append(z + (zq - z).detach() if zq.shape == z.shape else zq)
        recon = self.decoder(quantised)
        return VQVAEOutput(codes=codes, latents=latents, reconstruction=recon, commit_loss=torch.stack(commits).mean())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
