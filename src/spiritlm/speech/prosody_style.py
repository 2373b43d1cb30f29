"""A prosodic style tokenizer for the `[St]` stream: one token per second from pitch, loudness, voicing and
rhythm statistics, classified into the corpus's styles by a small MLP trained on their labels.

The mini models' wav2vec2 style encoder trained from scratch collapsed onto one class (it sees raw audio,
normalised, and has to discover prosody by itself in a few CPU steps). The styles of our corpus are
prosody settings (`data.corpus.styles`: rate, pitch shift, pitch range, gain, whisper), so the features
that carry them are measured directly, with WORLD's DIO pitch tracker and frame energies:

    per 10 ms frame: F0 in semitones re 100 Hz (unvoiced: NaN), voicing, level in dBFS
    per token (1 s, with `context_s` of audio on each side inside the chunk): 13 statistics
    (pitch mean / spread / 90 % range / mean |slope|, voiced fraction of speech, level mean / spread / peak,
    voiced onsets per speech second, energy-modulation peak and centroid 1-12 Hz, zero-crossing rate,
    fraction of speech frames)

and a 13 -> hidden -> n_styles MLP (inputs standardised with the training statistics) gives the token: the
most likely style's index, so `[St3]` means `labels[3]`. Nothing is normalised away per utterance: gain is
a style (loud, sad) and so is absolute pitch (happy, sad), so the level and pitch statistics stay absolute.

Folder (format "spiritlm-prosody-style"): config.json (labels, sizes, feature statistics) + model.safetensors.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

PROSODY_STYLE_FORMAT = "spiritlm-prosody-style"
SAMPLE_RATE = 16000
FRAME = 160  # 10 ms
N_STATS = 13
STAT_NAMES = ("pitch_mean", "pitch_std", "pitch_range90", "pitch_slope", "voiced_fraction", "level_mean",
              "level_std", "level_peak", "onset_rate", "modulation_peak", "modulation_centroid", "zero_crossings",
              "speech_fraction")


def prosody_frames(wav: np.ndarray) -> np.ndarray:
    """16 kHz waveform -> [F, 4] per 10 ms: semitones re 100 Hz (NaN unvoiced), voiced 0/1, dBFS, zero-crossing rate."""
    import pyworld as pw

    x = np.ascontiguousarray(wav, dtype=np.float64)
    n = len(x) // FRAME + 1
    if len(x) < 2 * FRAME:
        return np.stack([np.full(n, np.nan), np.zeros(n), np.full(n, -140.0), np.zeros(n)], 1)
    f0, t = pw.dio(x, SAMPLE_RATE, frame_period=1000 * FRAME / SAMPLE_RATE)
    f0 = pw.stonemask(x, f0, t, SAMPLE_RATE)[:n]
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, 400)), 400)[::FRAME][:len(f0)]
    db = 10 * np.log10((frames ** 2).mean(1) + 1e-14)
    zc = (np.abs(np.diff(np.sign(frames), axis=1)) > 0).mean(1)
    voiced = f0 > 0
    semis = np.where(voiced, 12 * np.log2(np.maximum(f0, 1e-3) / 100.0), np.nan)
    return np.stack([semis, voiced.astype(np.float64), db, zc], 1)


def window_stats(frames: np.ndarray) -> np.ndarray:
    """[F, 4] frames of one window -> the 13 statistics of `STAT_NAMES` (float32)."""
    semis, voiced, db, zc = frames[:, 0], frames[:, 1] > 0.5, frames[:, 2], frames[:, 3]
    speech = db > db.max() - 35.0
    n_speech = max(int(speech.sum()), 1)
    st = semis[voiced]
    if len(st) >= 3:
        pitch = [st.mean(), st.std(), np.percentile(st, 95) - np.percentile(st, 5), np.abs(np.diff(st)).mean()]
    else:
        pitch = [0.0, 0.0, 0.0, 0.0]
    env = db[speech]
    onsets = np.sum(np.diff(voiced.astype(np.int64)) == 1) / (n_speech / 100.0)
    e = np.clip(db - (db.max() - 35.0), 0.0, None)
    spec = np.abs(np.fft.rfft(e - e.mean(), 1024))
    freqs = np.fft.rfftfreq(1024, FRAME / SAMPLE_RATE)
    band = (freqs > 1.0) & (freqs < 12.0)
    peak = freqs[band][np.argmax(spec[band])]
    centroid = (spec[band] * freqs[band]).sum() / (spec[band].sum() + 1e-9)
    return np.array([*pitch, voiced[speech].mean() if speech.any() else 0.0, env.mean(), env.std(), db.max(),
                     onsets, peak, centroid, zc[speech].mean() if speech.any() else 0.0, speech.mean()],
                    dtype=np.float32)


def n_tokens(n_samples: int, token_s: float = 1.0) -> int:
    """Tokens for `n_samples` of audio: one per started `token_s` (none for an empty chunk)."""
    return -(-int(n_samples) // int(round(token_s * SAMPLE_RATE))) if n_samples > 0 else 0


def token_stats(frames: np.ndarray, n: int, token_s: float = 1.0, context_s: float = 1.0) -> np.ndarray:
    """[F, 4] frames of a chunk -> [n, 13]: statistics of each token's second with `context_s` on each side."""
    per = int(round(token_s * SAMPLE_RATE / FRAME))
    ctx = int(round(context_s * SAMPLE_RATE / FRAME))
    out = np.zeros((n, N_STATS), dtype=np.float32)
    for i in range(n):
        lo, hi = max(0, i * per - ctx), min(len(frames), (i + 1) * per + ctx)
        out[i] = window_stats(frames[lo:max(hi, lo + 1)])
    return out


@dataclass(frozen=True)
class ProsodyStyleConfig:
    labels: tuple[str, ...]
    hidden: int = 64
    dropout: float = 0.2
    token_s: float = 1.0
    context_s: float = 1.0


class ProsodyStyleModel(nn.Module):
    """Standardised statistics -> style logits."""

    def __init__(self, cfg: ProsodyStyleConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mean", torch.zeros(N_STATS))
        self.register_buffer("std", torch.ones(N_STATS))
        self.net = nn.Sequential(nn.Linear(N_STATS, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, len(cfg.labels)))

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        return self.net(((stats - self.mean) / self.std).clamp(-8.0, 8.0))  # a stat constant in training stays bounded


class ProsodyStyleTokenizer:
    """16 kHz audio -> one `[St]` token per second (a style index into `labels`); the `UnitStream` interface."""

    def __init__(self, model: ProsodyStyleModel):
        self.model = model.eval()

    @property
    def labels(self) -> list[str]:
        return list(self.model.cfg.labels)

    def num_units(self, n_samples: int) -> int:
        return n_tokens(n_samples, self.model.cfg.token_s)

    def stats(self, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        return token_stats(prosody_frames(wav), self.num_units(len(wav)), self.model.cfg.token_s,
                           self.model.cfg.context_s)

    @torch.no_grad()
    def logits(self, wav: np.ndarray) -> torch.Tensor:
        return self.model(torch.from_numpy(self.stats(wav)))

    def encode(self, wav: np.ndarray) -> np.ndarray:
        """1-D float32 16 kHz waveform -> style tokens [ceil(seconds)] int64."""
        if len(np.asarray(wav).reshape(-1)) == 0:
            return np.zeros(0, dtype=np.int64)
        return self.logits(wav).argmax(-1).numpy().astype(np.int64)

    __call__ = encode

    def save(self, folder: str | os.PathLike, format: str = "ours") -> Path:
        """config.json + model.safetensors; "ours" only (Meta's release has no prosodic style tokenizer)."""
        from safetensors.torch import save_file

        from ..checkpoints import check_save_format

        check_save_format(format, "a prosody style tokenizer", ("ours",))
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps({"format": PROSODY_STYLE_FORMAT,
                                                        "config": asdict(self.model.cfg)}, indent=1))
        save_file({k: v.detach().contiguous() for k, v in self.model.state_dict().items()},
                  str(folder / "model.safetensors"))
        return folder


def is_prosody_style(folder: str | os.PathLike) -> bool:
    p = Path(folder) / "config.json"
    try:
        return p.is_file() and json.loads(p.read_text()).get("format") == PROSODY_STYLE_FORMAT
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
        return False


def load_prosody_style(folder: str | os.PathLike) -> ProsodyStyleTokenizer:
    from safetensors.torch import load_file

    folder = Path(folder)
    raw = json.loads((folder / "config.json").read_text())["config"]
    cfg = ProsodyStyleConfig(**{**raw, "labels": tuple(raw["labels"])})
    model = ProsodyStyleModel(cfg)
    missing, unexpected = model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
    if missing or unexpected:
        raise ValueError(f"prosody style weights in {folder} do not match its config.json: "
                         f"missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    logger.info("loaded prosody style tokenizer from %s (%d styles)", folder, len(cfg.labels))
    return ProsodyStyleTokenizer(model)
