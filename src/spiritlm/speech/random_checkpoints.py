"""Random-weight checkpoints in the official file formats, for tests and benchmarks.

`write_hubert_checkpoints(root, "tiny")` writes, under ``<root>/speech_tokenizer/hubert_25hz/``::

    mhubert_base_25hz.pt    {model_cfg, task_cfg, model_weight, dictionaries_symbols}
    L11_quantizer_500.pt    {model_cfg: {vocab_size, dim, upstream_dim}, model_weight: {0.*, 2.*, 4.*}}

with every parameter drawn from a seeded generator (LayerNorm/GroupNorm scales around 1), so
the same seed gives the same files on any machine. The official code and ours can then be run on
identical weights (see tests/assets/speech/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .hubert import HubertFeatures
from .hubert_convert import HubertSpec, hf_to_official, hubert_preset, write_official_hubert
from .quantizer import LinearQuantizer, LinearQuantizerConfig

HUBERT_FILE = "hubert_25hz/mhubert_base_25hz.pt"
QUANTIZER_FILE = "hubert_25hz/L11_quantizer_500.pt"


@dataclass(frozen=True)
class RandomHubertFiles:
    hubert: Path
    quantizer: Path
    spec: HubertSpec
    quantizer_config: LinearQuantizerConfig


def randomize_(module: torch.nn.Module, seed: int, scale: float = 0.1, attn_scale: float = 0.05) -> torch.nn.Module:
    """Deterministic random values for every parameter (norm scales 1 + noise, the rest noise).

    Attention values/outputs get a smaller scale: with large ones a deep random post-LN transformer
    averages every frame into the same vector, and all frames would get one unit.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            small = "v_proj" in name or "out_proj" in name
            noise = torch.randn(p.shape, generator=g) * (attn_scale if small else scale)
            is_norm_scale = ("norm" in name and name.endswith("weight")) or name.endswith("original0")
            p.copy_(1.0 + noise * 0.5 if is_norm_scale else noise)
    return module


def random_hubert(spec: HubertSpec, seed: int = 0) -> HubertFeatures:
    model = HubertFeatures(spec, layer=None)
    randomize_(model.model, seed)
    if not spec.has_post_proj:  # fairseq has no projection here: keep HF's one an identity
        proj = model.model.feature_projection.projection
        with torch.no_grad():
            proj.weight.copy_(torch.eye(spec.embed_dim))
            proj.bias.zero_()
    return model


def random_quantizer(config: LinearQuantizerConfig, seed: int = 1, blank_bias: float = 1.0) -> LinearQuantizer:
    """Random MLP; `blank_bias` raises the blank logit so that blanks (and their fill) occur."""
    q = LinearQuantizer(config)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(q.encoder.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * (1.0 / p.shape[-1] ** 0.5 if p.ndim == 2 else 0.1))
        q.encoder[4].bias[config.vocab_size] += blank_bias
    return q


def write_hubert_checkpoints(root: str | Path, preset: str | HubertSpec = "tiny", vocab_size: int | None = None,
                             seed: int = 0, normalize: bool = False, fairseq: bool = False,
                             blank_bias: float = 1.0) -> RandomHubertFiles:
    """Write random HuBERT + linear quantizer files under `<root>/speech_tokenizer/` (official layout)."""
    spec = hubert_preset(preset) if isinstance(preset, str) else preset
    spec = replace(spec, normalize=normalize)
    if vocab_size is None:
        vocab_size = 500 if spec.embed_dim >= 512 else 20
    base = Path(root) / "speech_tokenizer"
    model = random_hubert(spec, seed)
    state = hf_to_official(model.model.state_dict(), spec)
    state["label_embs_concat"] = torch.zeros(vocab_size, spec.embed_dim)  # pretraining-only, ignored on load
    hub = write_official_hubert(base / HUBERT_FILE, spec, state, [[str(i) for i in range(vocab_size)]], fairseq)
    qcfg = LinearQuantizerConfig(vocab_size=vocab_size, dim=spec.embed_dim, upstream_dim=spec.embed_dim)
    qpath = base / QUANTIZER_FILE
    random_quantizer(qcfg, seed + 1, blank_bias).save(qpath, format="official")
    return RandomHubertFiles(hub, qpath, spec, qcfg)
