"""Test helper: a tiny random style encoder in the official `style_encoder_w2v2/` layout.

A `Wav2Vec2ForSequenceClassification` with the wav2vec2-base conv strides (320 samples per frame, so
frame counts match the real model) but 32-wide layers. Weights come from a seeded torch.Generator in
sorted key order; `config.json` + `pytorch_model.bin`, as the release ships them. `make_golden.py` ran
the official `Wav2Vec2StyleEncoder` on exactly these files.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

REFERENCE_AUDIO = Path(__file__).resolve().parents[4] / "shared" / "reference" / "audio" / "7143-88743-0029.flac"
GOLDEN = Path(__file__).with_name("golden.json")
NUM_LABELS = 12


def tiny_config():
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, feat_extract_norm="group",
        do_stable_layer_norm=False, num_labels=NUM_LABELS, classifier_proj_size=16, use_weighted_layer_sum=False,
        hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0,
    )


def random_model(seed: int = 0):
    from transformers import Wav2Vec2ForSequenceClassification

    torch.manual_seed(seed)
    model = Wav2Vec2ForSequenceClassification(tiny_config()).eval()
    gen = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    for key in sorted(state):
        t = state[key]
        if not t.is_floating_point():
            continue
        if t.ndim == 1 and ("norm" in key or "layer_norm" in key) and key.endswith("weight"):
            state[key] = 1.0 + 0.1 * torch.randn(t.shape, generator=gen)
        else:
            fan_in = math.prod(t.shape[1:]) if t.ndim > 1 else 1
            state[key] = torch.randn(t.shape, generator=gen) * (1.0 / math.sqrt(fan_in) if t.ndim > 1 else 0.1)
    model.load_state_dict(state)
    return model


def write_official(folder: Path, seed: int = 0) -> Path:
    """config.json + pytorch_model.bin (a plain torch state dict), as the release ships them."""
    model = random_model(seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(str(folder))
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "pytorch_model.bin")
    return folder
