"""HiFi-GAN training critics and losses: multi-period (MPD) and multi-scale (MSD) discriminators.

* **MPD**: for each period p (2, 3, 5, 7, 11) the waveform is folded into a 2-D image of
  [T / p, p] and judged by 2-D convolutions that only mix samples p apart, so each sub-
  discriminator sees one family of periodic structure (pitch harmonics).
* **MSD**: 1-D grouped convolutions on the waveform at 1x, 1/2x and 1/4x (average pooling), for
  structure at several time scales.

Both return their scores and every intermediate feature map; the generator is trained with a
least-squares adversarial loss, an L1 feature-matching loss between real and fake feature maps,
and an L1 log-mel loss (weight 45 in HiFi-GAN). Widths scale with `DiscriminatorConfig` so that
a small preset trains on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

LRELU = 0.1


@dataclass(frozen=True)
class DiscriminatorConfig:
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    mpd_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)
    msd_scales: int = 3
    msd_width: int = 128  # MSD channels: w, w, 2w, 4w, 8w, 8w, 8w

    @classmethod
    def preset(cls, name: str) -> DiscriminatorConfig:
        presets = {"official": cls(), "mini": cls(mpd_channels=(16, 64, 128, 256, 256), msd_width=32),
                   "tiny": cls(periods=(2, 3, 5), mpd_channels=(4, 8, 16, 16, 16), msd_scales=2, msd_width=16)}
        if name not in presets:
            raise ValueError(f"unknown discriminator preset {name!r}; valid: {', '.join(presets)}")
        return presets[name]


def _judge(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Leaky-ReLU conv stack, then the 1-channel score conv: (flattened scores [B, N], every feature map)."""
    fmaps = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU)
        fmaps.append(x)
    x = post(x)
    fmaps.append(x)
    return x.flatten(1), fmaps


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: tuple[int, ...]):
        super().__init__()
        self.period = period
        chans = (1, *channels)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(cin, cout, (5, 1), (3, 1) if i < len(channels) - 1 else 1, padding=(2, 0)))
            for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])))
        self.post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:  # [B, T]
        b, t = wav.shape
        pad = (-t) % self.period
        x = F.pad(wav, (0, pad), mode="reflect" if pad < t else "constant")
        return _judge(self.convs, self.post, x.view(b, 1, -1, self.period))  # [B, 1, T/p, p]


class ScaleDiscriminator(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        w = width
        spec = [(1, w, 15, 1, 1), (w, w, 41, 2, 4), (w, 2 * w, 41, 2, 16), (2 * w, 4 * w, 41, 4, 16),
                (4 * w, 8 * w, 41, 4, 16), (8 * w, 8 * w, 41, 1, 16), (8 * w, 8 * w, 5, 1, 1)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(cin, cout, k, s, groups=math.gcd(g, cin, cout), padding=(k - 1) // 2))
            for cin, cout, k, s, g in spec)
        self.post = weight_norm(nn.Conv1d(8 * w, 1, 3, padding=1))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:  # [B, T]
        return _judge(self.convs, self.post, wav.unsqueeze(1))  # [B, 1, T]


class Discriminators(nn.Module):
    """MPD + MSD: waveform [B, T] -> (scores, feature maps), one entry per sub-discriminator."""

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        self.subs = nn.ModuleList([PeriodDiscriminator(p, cfg.mpd_channels) for p in cfg.periods]
                                  + [ScaleDiscriminator(cfg.msd_width) for _ in range(cfg.msd_scales)])
        self.n_periods = len(cfg.periods)

    def forward(self, wav: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        scores, fmaps = [], []
        pooled = wav
        for i, sub in enumerate(self.subs):
            if i > self.n_periods:  # MSD scales 2, 3, ...: average-pool the previous scale by 2
                pooled = F.avg_pool1d(pooled.unsqueeze(1), 4, 2, padding=2).squeeze(1)
            s, f = sub(wav if i < self.n_periods else pooled)
            scores.append(s)
            fmaps.append(f)
        return scores, fmaps


def discriminator_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Least squares: real -> 1, fake -> 0."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2) for r, f in zip(real, fake))


def adversarial_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    return sum(torch.mean((1 - f) ** 2) for f in fake)


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    return 2 * sum(torch.mean(torch.abs(r.detach() - f)) for rs, fs in zip(real, fake) for r, f in zip(rs, fs))


def _hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    lin = f / (200.0 / 3)
    log = 15.0 + torch.log(torch.clamp(f, min=1e-5) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    lin = m * (200.0 / 3)
    log = 1000.0 * torch.exp((math.log(6.4) / 27.0) * (m - 15.0))
    return torch.where(m >= 15.0, log, lin)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """Triangular Slaney-normalised filters [n_mels, n_fft // 2 + 1]."""
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    pts = _mel_to_hz(torch.linspace(float(_hz_to_mel(torch.tensor(float(fmin)))),
                                    float(_hz_to_mel(torch.tensor(float(fmax)))), n_mels + 2, dtype=torch.float64))
    lower = (freqs[None] - pts[:-2, None]) / (pts[1:-1, None] - pts[:-2, None])
    upper = (pts[2:, None] - freqs[None]) / (pts[2:, None] - pts[1:-1, None])
    fb = torch.clamp(torch.minimum(lower, upper), min=0)
    return (fb * (2.0 / (pts[2:] - pts[:-2]))[:, None]).float()


class LogMel(nn.Module):
    """Waveform [B, T] -> log-mel [B, n_mels, frames] (HiFi-GAN loss settings)."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 1024, hop: int = 256, n_mels: int = 80,
                 fmin: float = 0.0, fmax: float | None = None):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("fb", mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax or sample_rate / 2),
                             persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        pad = (self.n_fft - self.hop) // 2
        x = F.pad(wav.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9)  # [B, F, frames]
        return torch.log(torch.clamp(self.fb @ mag, min=1e-5))
