"""Test helper: tiny random F0 VQ-VAE checkpoints in the official `vqvae_f0_quantizer/` layout.

Weights come from a seeded torch.Generator in sorted key order, so the files are identical on every
run; `make_golden.py` ran the official code on exactly these files. The codebook rows are latents of a
synthetic contour (plus noise), so that real speech spreads over many codes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from spiritlm.speech.f0 import F0Contour
from spiritlm.speech.pitch import PitchConfig, PitchTokenizer
from spiritlm.speech.vqvae import VQVAE, VQVAEConfig

REFERENCE_AUDIO = Path(__file__).resolve().parents[4] / "shared" / "reference" / "audio" / "7143-88743-0029.flac"
GOLDEN = Path(__file__).with_name("golden.json")

# name -> (features, speaker_norm, speaker stats)
VARIANTS = {
    "norm": ("norm_f0_interp,vuv", False, {}),
    "plain": ("f0_interp,vuv", False, {}),
    "speaker": ("f0,vuv", True, {"spk1": 120.0, "spk2": 210.0}),
}


def synthetic_contour(n: int = 400) -> F0Contour:
    t = np.arange(n, dtype=np.float32)
    f0 = (150 + 60 * np.sin(t / 23.0) + 20 * np.sin(t / 5.0)).astype(np.float32)
    vuv = ((t // 37) % 4 != 3).astype(np.float32)
    return F0Contour(f0=f0 * vuv, vuv=vuv)


def random_tokenizer(variant: str = "norm", seed: int = 0, preset: str = "tiny") -> PitchTokenizer:
    features, speaker_norm, stats = VARIANTS[variant]
    config = PitchConfig(vqvae=VQVAEConfig.preset(preset), features=features, interpolate=True,
                         speaker_norm=speaker_norm, speaker_stats=stats)
    model = VQVAE(config.vqvae)
    gen = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    for key in sorted(state):
        t = state[key]
        fan_in = math.prod(t.shape[1:]) if t.ndim > 1 else 1
        scale = 1.0 / math.sqrt(fan_in) if t.ndim > 1 else 0.1
        state[key] = torch.randn(t.shape, generator=gen) * scale
    model.load_state_dict(state)
    tok = PitchTokenizer(config, model)
    # codebook = latents of a synthetic contour, so codes are spread out
    with torch.no_grad():
        z = model.encoder(tok.features(synthetic_contour()), levels=1)[0]  # [1, D, T']
        rows = z[0].t()  # [T', D]
        k = rows[torch.randperm(rows.shape[0], generator=gen)[: config.vqvae.vq.l_bins]]
        k = k + 0.01 * torch.randn(k.shape, generator=gen)
        model.vq.level_blocks[0].k.copy_(k)
    return tok


def write_official(folder: Path, variant: str = "norm", seed: int = 0) -> Path:
    """Write config.yaml + model.pt (+ speaker_stats.pt) of a tiny random model into `folder`."""
    return random_tokenizer(variant, seed).save(folder, format="official")
