"""Hand-made acoustic features (log-mel, MFCC) at a HuBERT frame rate, in torch (no torchaudio).

They are the targets of HuBERT's first training iteration: k-means on MFCCs gives the first
"pseudo-phone" labels, which a HuBERT learns to predict for masked frames. Frames are computed at
100 Hz (25 ms Hann window, 10 ms hop) and averaged in groups so that there is exactly one vector
per HuBERT frame (`hop` samples), `num_frames` of them::

    16000 samples -> 100 frames at 100 Hz -> mean of 4 -> 25 vectors (hop 640), cut to num_frames
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

SAMPLE_RATE = 16000
WIN, HOP, N_FFT = 400, 160, 512


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int = N_FFT, sr: int = SAMPLE_RATE, fmin: float = 20.0,
                   fmax: float | None = None) -> torch.Tensor:
    """Triangular HTK-mel filters [n_mels, n_fft // 2 + 1]."""
    fmax = fmax or sr / 2
    pts = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, len(freqs)), dtype=np.float32)
    for i in range(n_mels):
        lo, mid, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return torch.from_numpy(fb)


def dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Orthonormal DCT-II [n_in, n_out] (x @ D gives the first n_out coefficients)."""
    n = torch.arange(n_in, dtype=torch.float64)[:, None]
    k = torch.arange(n_out, dtype=torch.float64)[None]
    d = torch.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
    d[:, 0] /= math.sqrt(2.0)
    return d.float()


def deltas(x: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Regression deltas over time of x [T, D] (edges repeated)."""
    pad = torch.cat([x[:1].expand(width, -1), x, x[-1:].expand(width, -1)])
    num = sum(k * (pad[width + k:len(pad) - width + k] - pad[width - k:len(pad) - width - k])
              for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


@dataclass(frozen=True)
class FeatureSpec:
    """`kind` "logmel" (n_mels dims) or "mfcc" (13 cepstra + deltas + delta-deltas = 39 dims)."""

    kind: str = "mfcc"
    n_mels: int = 40

    def __post_init__(self) -> None:
        if self.kind not in ("mfcc", "logmel"):
            raise ValueError(f"unknown acoustic feature {self.kind!r}; valid: logmel, mfcc")

    @property
    def dim(self) -> int:
        return 39 if self.kind == "mfcc" else self.n_mels


def frames_100hz(wav: np.ndarray | torch.Tensor, spec: FeatureSpec) -> torch.Tensor:
    """1-D 16 kHz waveform -> [T100, dim] features (T100 = max(0, (n - 400) // 160 + 1))."""
    x = torch.as_tensor(np.asarray(wav, dtype=np.float32)).reshape(-1)
    if len(x) < WIN:
        return torch.zeros(0, spec.dim)
    frames = x.unfold(0, WIN, HOP) * torch.hann_window(WIN, periodic=False)  # [T, 400]
    power = torch.fft.rfft(frames, N_FFT).abs() ** 2  # [T, 257]
    logmel = torch.log(power @ mel_filterbank(spec.n_mels).T + 1e-6)  # [T, n_mels]
    if spec.kind == "logmel":
        return logmel
    cep = logmel @ dct_matrix(spec.n_mels, 13)  # [T, 13]
    d1 = deltas(cep)
    return torch.cat([cep, d1, deltas(d1)], dim=1)  # [T, 39]


def pooled_features(wav, spec: FeatureSpec, hop: int, num_frames: int) -> torch.Tensor:
    """Features averaged to one vector per `hop` samples, exactly `num_frames` rows [num_frames, dim]."""
    if hop % HOP:
        raise ValueError(f"HuBERT hop {hop} is not a multiple of the 10 ms feature hop {HOP}")
    f = frames_100hz(wav, spec)
    group = hop // HOP
    need = num_frames * group
    if len(f) < need:  # the conv stack sees a little more of the end than the 25 ms windows do
        last = f[-1:] if len(f) else torch.zeros(1, spec.dim)
        f = torch.cat([f, last.expand(need - len(f), -1)])
    return f[:need].reshape(num_frames, group, spec.dim).mean(1)


def feature_fn(spec: FeatureSpec, hop: int, num_frames: Callable[[int], int]) -> Callable[[np.ndarray], torch.Tensor]:
    """wav -> [num_frames(len(wav)), dim], for k-means and HuBERT targets."""
    return lambda wav: pooled_features(wav, spec, hop, num_frames(len(wav)))
