"""HuBERT checkpoints: the official/fairseq layout <-> `transformers.HubertModel`, as pure functions.

Two on-disk forms hold the same fairseq-style state dict:

* the official "converted" file (`hubert_25hz/mhubert_base_25hz.pt`)::

      {"model_cfg": {...HubertConfig fields...}, "task_cfg": {...}, "model_weight": state_dict,
       "dictionaries_symbols": [[...]]}

* a fairseq checkpoint: ``{"cfg": {"model": ..., "task": ...}, "model": state_dict, ...}``
  (older ones: ``{"args": Namespace, "model": ...}``).

Key names map one to one through `_KEY_TABLE` (regex -> template); a key that matches no row and
is not a known pretraining-only key is an error, so a checkpoint never loads half-random::

    encoder.layers.3.fc1.weight  ->  encoder.layers.3.feed_forward.intermediate_dense.weight
    encoder.pos_conv.0.weight_g  ->  encoder.pos_conv_embed.conv.parametrizations.weight.original0
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

ConvLayers = tuple[tuple[int, int, int], ...]

_ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "gelu_accurate": "gelu_pytorch_tanh"}
_PRETRAIN_ONLY = ("label_embs_concat", "final_proj.weight", "final_proj.bias",
                  "target_glu.0.weight", "target_glu.0.bias")


def parse_conv_layers(spec: str | list | tuple) -> ConvLayers:
    """The fairseq `conv_feature_layers` expression -> ((dim, kernel, stride), ...), without eval().

    Only list/tuple literals of integers, `+` and `*` are accepted:
    ``"[(512,10,5)] + [(512,3,2)] * 4"``.
    """
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            vals = [ev(e) for e in node.elts]
            return vals if isinstance(node, ast.List) else tuple(vals)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            a, b = ev(node.left), ev(node.right)
            return a + b if isinstance(node.op, ast.Add) else a * b
        raise ValueError(f"unsupported element {ast.dump(node)[:60]} in conv_feature_layers")

    value = ev(ast.parse(spec, mode="eval")) if isinstance(spec, str) else spec
    layers = tuple(tuple(int(v) for v in layer) for layer in value)
    if not layers or any(len(layer) != 3 for layer in layers):
        raise ValueError(f"conv_feature_layers must be a non-empty list of (dim, kernel, stride), got {spec!r}")
    return layers


@dataclass(frozen=True)
class HubertSpec:
    """Architecture of a HuBERT checkpoint (the subset of fairseq's HubertConfig that matters)."""

    conv_layers: ConvLayers = ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 3
    extractor_mode: str = "default"  # "default" (GroupNorm on conv 0) | "layer_norm" (LN on every conv)
    conv_bias: bool = False
    embed_dim: int = 768
    ffn_dim: int = 3072
    heads: int = 12
    layers: int = 12
    conv_pos: int = 128
    conv_pos_groups: int = 16
    layer_norm_first: bool = False
    activation: str = "gelu"
    normalize: bool = False  # task_cfg.normalize: per-utterance zero mean / unit variance input
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        object.__setattr__(self, "conv_layers", parse_conv_layers(self.conv_layers))
        if self.extractor_mode not in ("default", "layer_norm"):
            raise ValueError(f"extractor_mode must be 'default' or 'layer_norm', got {self.extractor_mode!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation_fn {self.activation!r} unsupported; valid: {sorted(_ACTIVATIONS)}")
        if self.embed_dim % self.heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by heads {self.heads}")

    @property
    def has_post_proj(self) -> bool:
        """fairseq builds `post_extract_proj` only when the conv width differs from the model width."""
        return self.conv_layers[-1][0] != self.embed_dim

    @property
    def hop(self) -> int:
        """Samples per output frame (640 for the 25 Hz model, 320 for 50 Hz)."""
        out = 1
        for _, _, s in self.conv_layers:
            out *= s
        return out

    def num_frames(self, n_samples: int) -> int:
        """Output frames for `n_samples` input samples (the conv-stack length formula)."""
        n = int(n_samples)
        for _, k, s in self.conv_layers:
            n = (n - k) // s + 1 if n >= k else 0
        return max(n, 0)

    # ------------------------------------------------------------------ official configs

    @classmethod
    def from_official(cls, model_cfg: Mapping, task_cfg: Mapping) -> HubertSpec:
        for key, bad in (("layer_type", "transformer"), ("pos_conv_depth", 1), ("conv_pos_batch_norm", False)):
            if model_cfg.get(key, bad) != bad:
                raise ValueError(f"HuBERT with {key}={model_cfg[key]!r} is not supported (only {bad!r})")
        defaults = cls()
        conv = parse_conv_layers(model_cfg.get("conv_feature_layers",
                                               "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"))
        embed = int(model_cfg.get("encoder_embed_dim", defaults.embed_dim))
        return cls(conv_layers=conv, extractor_mode=str(model_cfg.get("extractor_mode", "default")),
                   conv_bias=bool(model_cfg.get("conv_bias", False)), embed_dim=embed,
                   ffn_dim=int(model_cfg.get("encoder_ffn_embed_dim", defaults.ffn_dim)),
                   heads=int(model_cfg.get("encoder_attention_heads", defaults.heads)),
                   layers=int(model_cfg.get("encoder_layers", defaults.layers)),
                   conv_pos=int(model_cfg.get("conv_pos", 128)),
                   conv_pos_groups=int(model_cfg.get("conv_pos_groups", 16)),
                   layer_norm_first=bool(model_cfg.get("layer_norm_first", False)),
                   activation=str(model_cfg.get("activation_fn", "gelu")),
                   normalize=bool(task_cfg.get("normalize", False)),
                   sample_rate=int(task_cfg.get("sample_rate", 16000)))

    def to_official(self) -> tuple[dict, dict]:
        """(model_cfg, task_cfg) dicts in the official field names."""
        conv = " + ".join(f"[({d},{k},{s})]" for d, k, s in self.conv_layers)
        model_cfg = {"label_rate": self.sample_rate / self.hop, "extractor_mode": self.extractor_mode,
                     "encoder_layers": self.layers, "encoder_embed_dim": self.embed_dim,
                     "encoder_ffn_embed_dim": self.ffn_dim, "encoder_attention_heads": self.heads,
                     "activation_fn": self.activation, "layer_type": "transformer",
                     "layer_norm_first": self.layer_norm_first, "conv_feature_layers": conv,
                     "conv_bias": self.conv_bias, "conv_pos": self.conv_pos, "conv_pos_groups": self.conv_pos_groups}
        task_cfg = {"label_rate": self.sample_rate / self.hop, "sample_rate": self.sample_rate,
                    "normalize": self.normalize}
        return model_cfg, task_cfg

    def to_dict(self) -> dict:
        d = asdict(self)
        d["conv_layers"] = [list(x) for x in self.conv_layers]
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> HubertSpec:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown HubertSpec fields {sorted(unknown)}; valid: {sorted(names)}")
        return cls(**d)

    def hf_config(self, n_layers: int | None = None):
        """`transformers.HubertConfig` for this spec, optionally with only the first `n_layers` layers."""
        from transformers import HubertConfig

        n = self.layers if n_layers is None else n_layers
        return HubertConfig(
            hidden_size=self.embed_dim, num_hidden_layers=n, num_attention_heads=self.heads,
            intermediate_size=self.ffn_dim, hidden_act=_ACTIVATIONS[self.activation],
            hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0, feat_proj_dropout=0.0,
            layerdrop=0.0, feat_proj_layer_norm=True, layer_norm_eps=1e-5,
            feat_extract_norm="group" if self.extractor_mode == "default" else "layer",
            feat_extract_activation="gelu", conv_dim=[d for d, _, _ in self.conv_layers],
            conv_kernel=[k for _, k, _ in self.conv_layers], conv_stride=[s for _, _, s in self.conv_layers],
            conv_bias=self.conv_bias, num_conv_pos_embeddings=self.conv_pos,
            num_conv_pos_embedding_groups=self.conv_pos_groups, do_stable_layer_norm=self.layer_norm_first,
            mask_time_prob=0.05, apply_spec_augment=False, attn_implementation="sdpa")


HUBERT_PRESETS: dict[str, HubertSpec] = {
    # The official mHuBERT-base 25 Hz shape (95 M parameters).
    "mhubert-base-25hz": HubertSpec(),
    # fairseq's HuBERT-base 50 Hz shape.
    "hubert-base-50hz": HubertSpec(conv_layers=((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2),
    # Our small model ("mini"): the 25 Hz conv stack, narrow, 6 layers; trainable on CPU in minutes.
    "mini": HubertSpec(conv_layers=((128, 10, 5),) + ((128, 3, 2),) * 4 + ((128, 2, 2),) * 3,
                       embed_dim=192, ffn_dim=768, heads=4, layers=6, conv_pos=32, conv_pos_groups=8),
    # Test size: the 25 Hz conv stack with narrow channels, 12 layers of width 32.
    "tiny": HubertSpec(conv_layers=((32, 10, 5),) + ((32, 3, 2),) * 4 + ((32, 2, 2),) * 3,
                       embed_dim=32, ffn_dim=64, heads=4, layers=12, conv_pos=16, conv_pos_groups=4),
}


def hubert_preset(name: str) -> HubertSpec:
    if name not in HUBERT_PRESETS:
        raise ValueError(f"unknown HuBERT preset {name!r}; valid: {', '.join(sorted(HUBERT_PRESETS))}")
    return HUBERT_PRESETS[name]


# ---------------------------------------------------------------------- state-dict conversion

_KEY_TABLE: list[tuple[str, str]] = [
    (r"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)", r"feature_extractor.conv_layers.\1.conv.\2"),
    (r"feature_extractor\.conv_layers\.0\.2\.(weight|bias)", r"feature_extractor.conv_layers.0.layer_norm.\1"),
    (r"feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)", r"feature_extractor.conv_layers.\1.layer_norm.\2"),
    (r"layer_norm\.(weight|bias)", r"feature_projection.layer_norm.\1"),
    (r"post_extract_proj\.(weight|bias)", r"feature_projection.projection.\1"),
    (r"mask_emb", r"masked_spec_embed"),
    (r"encoder\.pos_conv\.0\.weight_g", r"encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    (r"encoder\.pos_conv\.0\.weight_v", r"encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    (r"encoder\.pos_conv\.0\.bias", r"encoder.pos_conv_embed.conv.bias"),
    (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
    (r"encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj\.(weight|bias)", r"encoder.layers.\1.attention.\2_proj.\3"),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.layer_norm.\2"),
    (r"encoder\.layers\.(\d+)\.fc1\.(weight|bias)", r"encoder.layers.\1.feed_forward.intermediate_dense.\2"),
    (r"encoder\.layers\.(\d+)\.fc2\.(weight|bias)", r"encoder.layers.\1.feed_forward.output_dense.\2"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"encoder.layers.\1.final_layer_norm.\2"),
]
_ALIASES = {"encoder.pos_conv.0.parametrizations.weight.original0": "encoder.pos_conv.0.weight_g",
            "encoder.pos_conv.0.parametrizations.weight.original1": "encoder.pos_conv.0.weight_v"}
_LAYER_RE = re.compile(r"encoder\.layers\.(\d+)\.")


def _map_key(key: str, table: list[tuple[str, str]]) -> str | None:
    for pattern, template in table:
        m = re.fullmatch(pattern, key)
        if m:
            return m.expand(template)
    return None


def official_to_hf(state: Mapping[str, torch.Tensor], spec: HubertSpec,
                   n_layers: int | None = None) -> dict[str, torch.Tensor]:
    """fairseq/official HuBERT state dict -> `HubertModel` state dict (first `n_layers` layers)."""
    n_layers = spec.layers if n_layers is None else n_layers
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = _ALIASES.get(key, key)
        if key in _PRETRAIN_ONLY:
            continue
        if key.startswith("post_extract_proj.") and not spec.has_post_proj:
            logger.warning("ignoring %s: the model has no post_extract_proj (conv width == model width), "
                           "as in the official loader", key)
            continue
        m = _LAYER_RE.match(key)
        if m and int(m.group(1)) >= n_layers:
            continue  # layers after the output layer are never run
        new = _map_key(key, _KEY_TABLE)
        if new is None:
            raise ValueError(f"unknown HuBERT checkpoint key {key!r}; this converter knows fairseq HubertModel keys "
                             "(feature_extractor.*, layer_norm.*, post_extract_proj.*, mask_emb, encoder.*)")
        out[new] = value
    if not spec.has_post_proj:  # HF always projects: an identity keeps the fairseq model's behaviour
        dim = spec.conv_layers[-1][0]
        out["feature_projection.projection.weight"] = torch.eye(dim)
        out["feature_projection.projection.bias"] = torch.zeros(dim)
    return out


def _inverse_table() -> list[tuple[str, str]]:
    """`_KEY_TABLE` read backwards: each template becomes a pattern and each pattern a template."""
    inv = []
    for pattern, template in _KEY_TABLE:
        caps = re.findall(r"\([^)]*\)", pattern)
        src = re.escape(template)
        for i, cap in enumerate(caps, 1):
            src = src.replace(re.escape(f"\\{i}"), cap)
        dst = pattern
        for i, cap in enumerate(caps, 1):
            dst = dst.replace(cap, f"\\{i}", 1)
        inv.append((src, dst.replace("\\.", ".")))
    return inv


def hf_to_official(state: Mapping[str, torch.Tensor], spec: HubertSpec) -> dict[str, torch.Tensor]:
    """`HubertModel` state dict -> the official/fairseq key layout (inverse of `official_to_hf`)."""
    table = _inverse_table()
    if spec.extractor_mode == "layer_norm":  # conv 0 has a LayerNorm (".2.1."), not the GroupNorm (".2.")
        table = [row for row in table if not row[0].startswith(r"feature_extractor\.conv_layers\.0\.")]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("feature_projection.projection.") and not spec.has_post_proj:
            continue
        new = _map_key(key, table)
        if new is None:
            raise ValueError(f"unknown HubertModel key {key!r} for the official layout")
        out[new] = value
    return out


# ---------------------------------------------------------------------- files


def _as_mapping(cfg) -> dict:
    if cfg is None:
        return {}
    if isinstance(cfg, Mapping):
        return {k: (_as_mapping(v) if isinstance(v, Mapping) else v) for k, v in cfg.items()}
    if hasattr(cfg, "__dict__"):  # argparse.Namespace of old fairseq checkpoints
        return dict(vars(cfg))
    raise ValueError(f"cannot read a HuBERT config of type {type(cfg).__name__}")


def _torch_load(path: Path, allow_pickle: bool) -> dict:
    from ..torch_files import load_torch_file

    return load_torch_file(path, "the HuBERT checkpoint", allow_pickle=allow_pickle,
                           hint="fairseq checkpoints that pickle config objects need allow_pickle=True "
                           "(only for files you trust)")


@dataclass(frozen=True)
class OfficialHubert:
    spec: HubertSpec
    state: dict  # fairseq-layout state dict
    dictionaries: list | None


def read_official_hubert(path: str | Path, allow_pickle: bool = False) -> OfficialHubert:
    """Read the official "converted" file or a fairseq HuBERT checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HuBERT checkpoint not found: {path}")
    ckpt = _torch_load(path, allow_pickle)
    if not isinstance(ckpt, Mapping):
        raise ValueError(f"{path}: expected a dict checkpoint, got {type(ckpt).__name__}")
    if "model_weight" in ckpt:  # official converted form
        model_cfg, task_cfg = _as_mapping(ckpt.get("model_cfg")), _as_mapping(ckpt.get("task_cfg"))
        state, dicts = dict(ckpt["model_weight"]), ckpt.get("dictionaries_symbols")
    elif "model" in ckpt:  # fairseq
        if ckpt.get("cfg") is not None:
            cfg = _as_mapping(ckpt["cfg"])
            model_cfg, task_cfg = _as_mapping(cfg.get("model")), _as_mapping(cfg.get("task"))
        else:
            model_cfg = task_cfg = _as_mapping(ckpt.get("args"))
        state = dict(ckpt["model"])
        dicts = [getattr(d, "symbols", d) for d in (ckpt.get("task_state") or {}).get("dictionaries", [])] or None
    else:
        raise ValueError(f"{path}: not a HuBERT checkpoint (keys {sorted(ckpt)[:6]}); expected the official "
                         "{model_cfg, task_cfg, model_weight, dictionaries_symbols} or fairseq {cfg|args, model}")
    return OfficialHubert(HubertSpec.from_official(model_cfg, task_cfg), state, dicts)


def write_official_hubert(path: str | Path, spec: HubertSpec, state: Mapping[str, torch.Tensor],
                          dictionaries: list | None = None, fairseq: bool = False) -> Path:
    """Write a fairseq-layout state dict in the official converted (or fairseq) file format."""
    model_cfg, task_cfg = spec.to_official()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fairseq:
        obj = {"cfg": {"model": model_cfg, "task": task_cfg}, "model": dict(state),
               "task_state": {"dictionaries": dictionaries or []}}
    else:
        obj = {"model_cfg": model_cfg, "task_cfg": task_cfg, "model_weight": dict(state),
               "dictionaries_symbols": dictionaries or []}
    torch.save(obj, path)
    return path


def with_layers(spec: HubertSpec, layers: int) -> HubertSpec:
    return replace(spec, layers=layers)
