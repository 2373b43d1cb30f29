"""A phone-supervised speech encoder: the mini models' source of `[Hu]` units (in place of HuBERT).

HuBERT learns phonetic features by masked prediction over GPU-weeks; a small encoder learns them in
CPU minutes when told the phones (the route of CosyVoice's S3 and GLM-4-Voice's tokenizers, which
train their encoders with an ASR objective). The corpus knows every phone's time, so::

    wav 16 kHz ─▶ log-mel [80, 100 Hz] (per-utterance mean/variance normalised)
        ─▶ conv k3 s2 ─▶ conv k3 s2 ─▶ [D, 25 Hz] ─▶ transformer × L ─▶ hidden [T, D] ─▶ phone logits [T, 40]

is trained with frame-level cross-entropy on `speech.phones` targets, and k-means on `hidden`
(`spiritlm train kmeans --features hubert --hubert <this folder>`) gives the units. It has the
interface of `HubertFeatures` (`forward(wav [B, S], lengths) -> (features [B, T, D], frames [B])`,
`spec.sample_rate`, `hop`, `dim`, `num_frames`), so the tokenizer, the unit caches and the quantizer
use it unchanged; `speech.hubert.load` recognises its folder (`config.json` with
`"format": "spiritlm-phone-encoder"` + `model.safetensors`). One frame per 640 samples, as the
Spirit HuBERT: T = S // 640.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .features import mel_filterbank

logger = logging.getLogger(__name__)

PHONE_ENCODER_FORMAT = "spiritlm-phone-encoder"
SAMPLE_RATE = 16000
MEL_HOP = 160  # 10 ms
N_FFT = 512


@dataclass(frozen=True)
class PhoneEncoderConfig:
    n_mels: int = 80
    dim: int = 256
    layers: int = 4
    heads: int = 4
    ffn: int = 768
    n_phones: int = 40  # speech.phones.PHONES
    dropout: float = 0.1

    @classmethod
    def preset(cls, name: str) -> PhoneEncoderConfig:
        presets = {"tiny": cls(n_mels=40, dim=32, layers=1, heads=2, ffn=64), "mini": cls()}
        if name not in presets:
            raise ValueError(f"unknown phone encoder preset {name!r}; valid: {', '.join(presets)}")
        return presets[name]


@dataclass(frozen=True)
class _Spec:
    """What the tokenizer asks of a feature extractor (HubertSpec's names)."""

    sample_rate: int = SAMPLE_RATE
    hop: int = 4 * MEL_HOP

    def num_frames(self, n_samples: int) -> int:
        return int(n_samples) // self.hop


def log_mel(wav: torch.Tensor, n_mels: int) -> torch.Tensor:
    """[B, S] -> log-mel [B, n_mels, S // 160] (Hann 400 / hop 160, the last partial frame dropped)."""
    spec = torch.stft(wav, N_FFT, MEL_HOP, win_length=400, window=torch.hann_window(400, device=wav.device),
                      center=True, return_complex=True)  # [B, 257, S // 160 + 1]
    power = spec.abs() ** 2
    fb = mel_filterbank(n_mels, N_FFT, SAMPLE_RATE).to(wav.device)
    return torch.log(fb @ power + 1e-6)[..., : wav.shape[-1] // MEL_HOP]


def _sinusoids(n: int, dim: int, device) -> torch.Tensor:
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    inv = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    out = torch.zeros(n, dim, device=device)
    out[:, 0::2] = torch.sin(pos * inv)
    out[:, 1::2] = torch.cos(pos * inv)
    return out  # [n, dim]


class PhoneEncoder(nn.Module):
    def __init__(self, cfg: PhoneEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.spec = _Spec()
        self.conv1 = nn.Conv1d(cfg.n_mels, cfg.dim, 3, stride=2, padding=1)
        self.conv2 = nn.Conv1d(cfg.dim, cfg.dim, 3, stride=2, padding=1)
        layer = nn.TransformerEncoderLayer(cfg.dim, cfg.heads, cfg.ffn, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.n_phones)
        self.eval()

    @property
    def dim(self) -> int:
        return self.cfg.dim

    @property
    def hop(self) -> int:
        return self.spec.hop

    def num_frames(self, n_samples: int) -> int:
        return self.spec.num_frames(n_samples)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(lengths.long(), self.spec.hop, rounding_mode="floor")

    def hidden(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """wav [B, S] (or [S]) -> (hidden [B, T, D], frames [B]); padding past `lengths` is masked."""
        if wav.dim() == 1:
            wav = wav[None]
        if lengths is None:
            lengths = torch.full((wav.shape[0],), wav.shape[1], dtype=torch.long, device=wav.device)
        frames = self.frame_lengths(lengths)
        n_mel = torch.div(lengths.long(), MEL_HOP, rounding_mode="floor")
        mel = log_mel(wav.float(), self.cfg.n_mels)  # [B, M, F]
        valid = (torch.arange(mel.shape[-1], device=wav.device)[None] < n_mel[:, None]).float()[:, None]  # [B,1,F]
        count = valid.sum(-1, keepdim=True).clamp(min=1)
        mean = (mel * valid).sum(-1, keepdim=True) / count
        std = ((((mel - mean) * valid) ** 2).sum(-1, keepdim=True) / count).sqrt().clamp(min=1e-3)
        x = (mel - mean) / std * valid  # level and channel normalised
        x = torch.nn.functional.gelu(self.conv1(x))
        x = torch.nn.functional.gelu(self.conv2(x)).transpose(1, 2)  # [B, ~F/4, D]
        t = int(frames.max()) if len(frames) else 0
        x = x[:, :t]
        if x.shape[1] < t:
            x = torch.nn.functional.pad(x, (0, 0, 0, t - x.shape[1]))
        pad = torch.arange(t, device=wav.device)[None] >= frames[:, None]  # [B, T] True = padding
        x = x + _sinusoids(t, self.cfg.dim, wav.device)[None]
        x = self.encoder(x, src_key_padding_mask=pad if pad.any() else None)
        return self.norm(x).masked_fill(pad[..., None], 0.0), frames

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.hidden(wav, lengths)

    def logits(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h, frames = self.hidden(wav, lengths)
        return self.head(h), frames  # [B, T, n_phones]

    # ------------------------------------------------------------------ files
    def save(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps({"format": PHONE_ENCODER_FORMAT, "config": asdict(self.cfg)},
                                                       indent=1))
        save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()},
                  str(folder / "model.safetensors"))
        return folder


def is_phone_encoder(folder: str | Path) -> bool:
    p = Path(folder) / "config.json"
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text()).get("format") == PHONE_ENCODER_FORMAT
    except (json.JSONDecodeError, AttributeError):
        return False


def load_phone_encoder(folder: str | Path) -> PhoneEncoder:
    from safetensors.torch import load_file

    folder = Path(folder)
    raw = json.loads((folder / "config.json").read_text())
    model = PhoneEncoder(PhoneEncoderConfig(**raw["config"]))
    missing, unexpected = model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
    if missing or unexpected:
        raise ValueError(f"phone encoder weights in {folder} do not match its config.json: "
                         f"missing {sorted(missing)[:6]}, unexpected {sorted(unexpected)[:6]}")
    logger.info("loaded phone encoder from %s (%d layers x %d)", folder, model.cfg.layers, model.cfg.dim)
    return model.eval()
