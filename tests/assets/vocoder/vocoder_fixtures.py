"""Test helper: a tiny random unit HiFi-GAN written in the OFFICIAL release format.

`make_official_folder(folder, kind)` writes what Meta ships in `hifigan_spiritlm_{base,expressive_w2v2}/`:
a `config.json` with the official key names (plus training-only keys a real config carries),
`generator.pt` = {"generator": state_dict} with weight-norm pairs `weight_g` / `weight_v` under the
official module names, and `speakers.txt` (+ `styles.txt` for Base). The state dict is built here
from an explicit key/shape list, not with the library's converter, so a loading bug cannot hide.

Values come from numpy's legacy `RandomState` (stable across numpy versions), so the folder is
identical wherever it is made; `golden.npz` holds the official implementation's output on it
(see README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

CONFIGS = {
    "base": {
        "resblock": "1", "upsample_rates": [10, 8, 8], "upsample_kernel_sizes": [20, 16, 16],
        "upsample_initial_channel": 16, "resblock_kernel_sizes": [3, 5],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 2, 4]], "model_in_dim": 24, "num_embeddings": 32,
        "embedding_dim": 8, "multispkr": True, "num_speakers": 4, "multistyle": True, "num_styles": 10,
        "code_hop_size": 640, "sampling_rate": 16000, "segment_size": 8960, "learning_rate": 0.0002,
        "dur_predictor_params": {"encoder_embed_dim": 8, "var_pred_hidden_dim": 8, "var_pred_kernel_size": 3,
                                 "var_pred_dropout": 0.5},
    },
    "expressive": {
        "resblock": "1", "upsample_rates": [10, 8, 8], "upsample_kernel_sizes": [20, 16, 16],
        "upsample_initial_channel": 16, "resblock_kernel_sizes": [3, 5],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 2, 4]], "model_in_dim": 32, "num_embeddings": 32,
        "embedding_dim": 8, "multispkr": True, "num_speakers": 4, "num_f0_tokens": 16, "f0_hop_size": 1280,
        "num_style_tokens": 12, "style_hop_size": 16000, "code_hop_size": 640, "sampling_rate": 16000,
        "segment_size": 8960, "learning_rate": 0.0002,
        "dur_predictor_params": {"encoder_embed_dim": 8, "var_pred_hidden_dim": 8, "var_pred_kernel_size": 3,
                                 "var_pred_dropout": 0.5},
    },
}
SPEAKERS = ["ex01", "ex02", "ex03", "ex04"]
STYLES = ["read-default", "read-happy", "read-sad", "read-whisper", "conv-angry", "conv-happy", "conv-sad",
          "conv-laughing", "conv-default", "conv-whisper"]
SEED = {"base": 1234, "expressive": 4321}


def official_shapes(cfg: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """(key, shape, kind) of every official generator weight; kind in emb | wn | plain | bias | ln."""
    d, ch = cfg["embedding_dim"], cfg["upsample_initial_channel"]
    out = [("dict.weight", (cfg["num_embeddings"], d), "emb")]
    if cfg.get("num_f0_tokens"):
        out.append(("f0_dict.weight", (cfg["num_f0_tokens"], d), "emb"))
    if cfg.get("num_style_tokens"):
        out.append(("style_dict.weight", (cfg["num_style_tokens"], d), "emb"))
    if cfg.get("multispkr"):
        out.append(("spkr.weight", (cfg["num_speakers"], d), "emb"))
    if cfg.get("multistyle"):
        out.append(("style.weight", (cfg["num_styles"], d), "emb"))
    dp = cfg["dur_predictor_params"]
    h, k = dp["var_pred_hidden_dim"], dp["var_pred_kernel_size"]
    out += [("dur_predictor.conv1.0.weight", (h, d, k), "plain"), ("dur_predictor.conv1.0.bias", (h,), "bias"),
            ("dur_predictor.ln1.weight", (h,), "ln"), ("dur_predictor.ln1.bias", (h,), "bias"),
            ("dur_predictor.conv2.0.weight", (h, h, k), "plain"), ("dur_predictor.conv2.0.bias", (h,), "bias"),
            ("dur_predictor.ln2.weight", (h,), "ln"), ("dur_predictor.ln2.bias", (h,), "bias"),
            ("dur_predictor.proj.weight", (1, h), "plain"), ("dur_predictor.proj.bias", (1,), "durbias")]
    out += [("conv_pre.weight", (ch, cfg["model_in_dim"], 7), "wn"), ("conv_pre.bias", (ch,), "bias")]
    j = 0
    for i, kk in enumerate(cfg["upsample_kernel_sizes"]):
        out += [(f"ups.{i}.weight", (ch, ch // 2, kk), "wn"), (f"ups.{i}.bias", (ch // 2,), "bias")]
        ch //= 2
        for rk, dil in zip(cfg["resblock_kernel_sizes"], cfg["resblock_dilation_sizes"]):
            for group in ("convs1", "convs2"):
                for n in range(len(dil)):
                    out += [(f"resblocks.{j}.{group}.{n}.weight", (ch, ch, rk), "wn"),
                            (f"resblocks.{j}.{group}.{n}.bias", (ch,), "bias")]
            j += 1
    out += [("conv_post.weight", (1, ch, 7), "wn"), ("conv_post.bias", (1,), "bias")]
    return out


def official_state_dict(cfg: dict, seed: int) -> dict[str, torch.Tensor]:
    rs = np.random.RandomState(seed)
    sd: dict[str, torch.Tensor] = {}

    def t(a):
        return torch.from_numpy(np.asarray(a, dtype=np.float32))

    for key, shape, kind in official_shapes(cfg):
        if kind == "wn":  # weight norm over axis 0: g [shape[0], 1, 1], v any direction
            base = key[: -len(".weight")]
            sd[base + ".weight_g"] = t(rs.uniform(0.6, 1.4, size=(shape[0],) + (1,) * (len(shape) - 1)))
            sd[base + ".weight_v"] = t(rs.standard_normal(shape))
        elif kind == "emb":
            sd[key] = t(rs.standard_normal(shape))
        elif kind == "plain":
            sd[key] = t(rs.standard_normal(shape) * 0.3)
        elif kind == "ln":
            sd[key] = t(rs.uniform(0.5, 1.5, size=shape))
        elif kind == "durbias":
            sd[key] = t(np.full(shape, 1.2))
        else:
            sd[key] = t(rs.standard_normal(shape) * 0.05)
    return sd


def make_official_folder(folder: str | Path, kind: str = "base") -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = CONFIGS[kind]
    (folder / "config.json").write_text(json.dumps(cfg, indent=1))
    torch.save({"generator": official_state_dict(cfg, SEED[kind])}, folder / "generator.pt")
    (folder / "speakers.txt").write_text("".join(f"{s}\n" for s in SPEAKERS))
    if kind == "base":
        (folder / "styles.txt").write_text("".join(f"{s}\n" for s in STYLES))
    return folder


# The inputs the golden values were computed on (shared by make_golden.py and the tests).
BASE_STRING = "[Hu3][Hu17][Hu5][Hu29][Hu0][Hu12][Hu31][Hu8]"
BASE_RAW = {"hubert": "3 3 17 17 17 5 29 29 0 12 12 31 8 8"}
EXPR_STRING = ("[St4][Pi9][Hu3][Hu17][Pi2][Hu5][Hu29][Pi15][Hu0][Hu12][St11][Pi0][Hu31][Hu8]")
EXPR_RAW = {"hubert": " ".join(str(v) for v in [3, 3, 17, 5, 5, 29, 0, 0, 12, 31, 31, 8, 8, 8, 20, 21, 4, 4,
                                                    9, 9, 9, 1, 2, 2, 6, 6, 6, 7, 30, 30]),
            "pitch": "9 9 2 2 15 15 0 3 3 3 14 1 1 5 5", "style": "4 11"}
