"""A unit vocoder that trains in minutes on a CPU: a spectral head on a unit HiFi-GAN's conditioning,
rendered with Griffin-Lim.

A HiFi-GAN needs hundreds of thousands of GAN steps before it speaks intelligibly; a 2-core machine
gives it a few hundred. This vocoder keeps everything of a trained `UnitVocoder` that learns fast
(the unit / pitch / style / speaker embeddings and the duration predictor) and replaces the waveform
generator by a small convolutional network regressing log-magnitude spectra (L1, converges in a few
thousand cheap steps), turned into a waveform by Griffin-Lim phase reconstruction::

    units ─(durations, embeddings of the HiFi-GAN)─▶ cond [C, T] at 25 Hz
          ─(conv ×3, upsample ×4, conv ×2)─▶ log |STFT| [257, 4T] at 100 Hz ─(Griffin-Lim)─▶ 16 kHz wav

It has `UnitVocoder`'s interface (synthesize / decode / stream / frames) and loads through
`load_vocoder` like any vocoder folder: `config.json` {"format": "spiritlm-spectral-vocoder",
"config": <the VocoderConfig>, "spectral": <SpectralConfig>} + `model.safetensors` (the HiFi-GAN's
weights under `hifigan.`, the head's under `head.`) + `speakers.txt`. The sound is buzzier than a
converged HiFi-GAN (phase is estimated, harmonics are smoothed), but it is intelligible after
minutes of training. `spiritlm train spectral-vocoder` trains one on top of `spiritlm train vocoder`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..checkpoints import check_save_format
from .unit_vocoder import UnitVocoder, folder_defaults

logger = logging.getLogger(__name__)

SPECTRAL_FORMAT = "spiritlm-spectral-vocoder"


@dataclass(frozen=True)
class SpectralConfig:
    n_fft: int = 512
    hop: int = 160  # 10 ms: 4 frames per 25 Hz unit
    channels: int = 256
    kernel: int = 5
    gl_iters: int = 48
    gl_momentum: float = 0.99

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1


class SpectralHead(nn.Module):
    """Conditioning [B, C_in, T] at the unit rate -> log-magnitude [B, bins, T * up]."""

    def __init__(self, c_in: int, cfg: SpectralConfig, up: int):
        super().__init__()
        k, ch = cfg.kernel, cfg.channels
        self.up = up
        self.inp = nn.Conv1d(c_in, ch, k, padding=k // 2)
        self.low = nn.ModuleList(nn.Conv1d(ch, ch, k, padding=k // 2) for _ in range(3))
        self.high = nn.ModuleList(nn.Conv1d(ch, ch, k, padding=k // 2) for _ in range(2))
        self.out = nn.Conv1d(ch, cfg.bins, 1)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.inp(cond))
        for conv in self.low:
            x = x + torch.relu(conv(x))
        x = torch.repeat_interleave(x, self.up, dim=2)
        for conv in self.high:
            x = x + torch.relu(conv(x))
        return self.out(x)


def log_magnitude(wav: torch.Tensor, cfg: SpectralConfig, frames: int) -> torch.Tensor:
    """[B, samples] -> log |STFT| [B, bins, frames] (Hann window, centred frames)."""
    spec = torch.stft(wav, cfg.n_fft, cfg.hop, window=torch.hann_window(cfg.n_fft), center=True,
                      return_complex=True)
    return torch.log(spec.abs()[..., :frames] + 1e-5)


def griffin_lim(log_mag: torch.Tensor, cfg: SpectralConfig, length: int) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al., 2013) from log-magnitude [bins, frames] -> waveform [length].
    Deterministic: the phase starts at zero."""
    mag = torch.exp(log_mag).clamp(max=1e3)
    window = torch.hann_window(cfg.n_fft)
    angles = torch.ones_like(mag, dtype=torch.complex64)
    prev = torch.zeros_like(angles)
    for _ in range(cfg.gl_iters):
        wav = torch.istft(mag * angles, cfg.n_fft, cfg.hop, window=window, center=True, length=length)
        rebuilt = torch.stft(wav, cfg.n_fft, cfg.hop, window=window, center=True, return_complex=True)
        rebuilt = rebuilt[..., : mag.shape[-1]]
        accel = rebuilt - (cfg.gl_momentum / (1 + cfg.gl_momentum)) * prev
        prev = rebuilt
        angles = accel / accel.abs().clamp(min=1e-8)
    return torch.istft(mag * angles, cfg.n_fft, cfg.hop, window=window, center=True, length=length)


class SpectralVocoder(UnitVocoder):
    """A `UnitVocoder` whose waveform comes from the spectral head + Griffin-Lim (see the module docstring)."""

    def __init__(self, model, head: SpectralHead, spectral: SpectralConfig, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        self.head = head.to(self.device).eval()
        self.spectral = spectral

    def _render(self, plan, speaker, style) -> np.ndarray:
        if len(plan.units) == 0:
            return np.zeros(0, dtype=np.float32)
        cond = self.features(plan, speaker, style)  # [1, C, T] at the unit rate
        with torch.inference_mode():
            log_mag = self.head(cond)[0].float().cpu()
            wav = griffin_lim(log_mag, self.spectral, cond.shape[-1] * self.config.hop_length)
        peak = float(wav.abs().max()) if wav.numel() else 0.0
        if peak > 0.99:  # phase estimation can overshoot: scale down rather than clip
            wav = wav * (0.99 / peak)
        return wav.numpy().astype(np.float32)

    def stream(self, units, speaker_id=None, style_id=None, chunk_units: int = 50, first_chunk_units: int | None = 10,
               dur_pred: bool = True, mode: str = "stateful") -> Iterator[np.ndarray]:
        """Griffin-Lim works on the whole utterance: one chunk, the offline waveform."""
        yield self.decode(units, speaker_id, style_id, dur_pred=dur_pred)

    def save(self, folder: str | Path, format: str = "ours") -> Path:
        check_save_format(format, "a spectral vocoder (no counterpart in Meta's code)", ("ours",))
        return save_spectral(folder, self)


def save_spectral(folder: str | Path, voc: SpectralVocoder, defaults: dict | None = None) -> Path:
    from safetensors.torch import save_file

    from .convert import _write_names

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"format": SPECTRAL_FORMAT, "config": voc.config.to_dict(), "spectral": asdict(voc.spectral)}
    if defaults:
        cfg["defaults"] = defaults
    (folder / "config.json").write_text(json.dumps(cfg, indent=1))
    weights = {f"hifigan.{k}": v.detach().contiguous().cpu() for k, v in voc.model.state_dict().items()}
    weights |= {f"head.{k}": v.detach().contiguous().cpu() for k, v in voc.head.state_dict().items()}
    save_file(weights, str(folder / "model.safetensors"))
    _write_names(folder, voc.speakers, voc.styles)
    return folder


def is_spectral_folder(folder: str | Path) -> bool:
    p = Path(folder) / "config.json"
    return p.is_file() and json.loads(p.read_text()).get("format") == SPECTRAL_FORMAT


def build_head(model, spectral: SpectralConfig) -> SpectralHead:
    """A head sized for this HiFi-GAN's conditioning."""
    with torch.no_grad():
        c_in = model.conditioning(torch.zeros(1, 2, dtype=torch.long),
                                  *_dummy_streams(model)).shape[1]
    hop = model.cfg.hop_length
    if hop % spectral.hop:
        raise ValueError(f"the unit hop ({hop}) must be a multiple of the STFT hop ({spectral.hop})")
    return SpectralHead(c_in, spectral, hop // spectral.hop)


def _dummy_streams(model):
    cfg = model.cfg
    z = torch.zeros(1, 2, dtype=torch.long)
    return (z if cfg.num_f0_tokens else None, z if cfg.num_style_tokens else None,
            torch.zeros(1, dtype=torch.long) if cfg.num_speakers else None,
            torch.zeros(1, dtype=torch.long) if cfg.num_styles else None)


def load_spectral(folder: str | Path, default_speaker=None, default_style=None, device="cpu") -> SpectralVocoder:
    from safetensors.torch import load_file

    from .config import VocoderConfig
    from .convert import read_names
    from .hifigan import CodeHiFiGAN

    folder = Path(folder)
    raw = json.loads((folder / "config.json").read_text())
    cfg = VocoderConfig.from_dict(raw["config"])
    spectral = SpectralConfig(**raw["spectral"])
    model = CodeHiFiGAN(cfg)
    head = build_head(model, spectral)
    weights = load_file(str(folder / "model.safetensors"))
    for module, prefix in ((model, "hifigan."), (head, "head.")):
        sd = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        missing, unexpected = module.load_state_dict(sd, strict=False)
        if missing or unexpected:
            raise ValueError(f"spectral vocoder weights in {folder} do not match its config.json: "
                             f"missing {sorted(missing)[:8]}, unexpected {sorted(unexpected)[:8]}")
    fs, fst = folder_defaults(folder, cfg, official=False)
    logger.info("loaded spectral vocoder from %s (%s, %d speakers)", folder,
                "Expressive" if cfg.is_expressive else "Base", cfg.num_speakers)
    return SpectralVocoder(model, head, spectral, read_names(folder / "speakers.txt"),
                           read_names(folder / "styles.txt"), fs if default_speaker is None else default_speaker,
                           fst if default_style is None else default_style, device)
