"""Run configs for LM training: nested frozen dataclasses read from YAML, unknown keys rejected.

A recipe (``recipes/lm_*.yaml``) has five sections; anything left out takes the default below::

    run:    {out_dir: runs/mini-base, steps: 2000, seed: 0, log_every: 10, eval_every: 200, ...}
    model:  {init: scratch, arch: mini, tokenizer: path/to/tokenizer, variant: base, rope_theta: 100000}
    data:   {manifest: corpus/manifest.jsonl, units: corpus/units, weights: {text: 1, speech: 1, interleaved: 1}}
    optim:  {lr: 3.0e-4, schedule: cosine, warmup_steps: 50, global_batch: 16, micro_batch: 8}
    dist:   {strategy: ddp, precision: auto}

`load_config(path, overrides=["run.steps=10"])` applies ``section.key=value`` overrides (values are
YAML), so tests and the CLI can change one setting without another file.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ARCHS = {
    # name: (hidden, layers, heads, kv_heads, intermediate)
    "tiny": (32, 2, 2, 2, 64),
    "mini": (256, 6, 4, 4, 768),
    "small": (384, 8, 6, 2, 1024),
}
MODEL_INITS = ("scratch", "pretrained", "spirit")
SCHEDULES = ("cosine", "constant")
STRATEGIES = ("ddp", "fsdp")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class RunConfig:
    out_dir: str = "runs/lm"
    steps: int = 100
    seed: int = 0
    log_every: int = 10
    eval_every: int = 50
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    milestones: tuple[int, ...] = ()  # steps whose checkpoints are saved and never pruned (equal-budget comparisons)
    resume: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """scratch: a new Llama of size `arch` on `tokenizer`; pretrained: a text LM at `path`, extended;
    spirit: an already extended Spirit checkpoint at `path` (official or ours)."""

    init: str = "scratch"
    arch: str = "tiny"
    path: str | None = None
    tokenizer: str | None = None  # folder with tokenizer.model / tokenizer.json (default: `path`)
    variant: str = "base"
    extend_init: str = "random"
    rope_theta: float = 100000.0
    pad_multiple: int = 256
    max_positions: int = 4096
    n_hubert: int = 501  # unit inventories of the speech tokenizer (released sizes by default)
    n_pitch: int = 64
    n_style: int = 100

    def __post_init__(self) -> None:
        _choice("model.init", self.init, MODEL_INITS)
        _choice("model.arch", self.arch, tuple(ARCHS))
        if self.init in ("pretrained", "spirit") and not self.path:
            raise ValueError(f"model.init={self.init} needs model.path (a checkpoint folder)")
        if self.init == "scratch" and not (self.tokenizer or self.path):
            raise ValueError("model.init=scratch needs model.tokenizer (a folder with the text tokenizer)")


@dataclass(frozen=True)
class DataConfig:
    manifest: str | None = None
    units: str | None = None  # unit cache folder (`spiritlm data units`)
    text_files: tuple[str, ...] = ()
    train_split: str | None = "train"
    eval_split: str | None = "valid"
    weights: dict = field(default_factory=lambda: {"text": 1.0, "speech": 1.0, "interleaved": 1.0})
    seq_len: int = 512
    packing: bool = True
    text_words: tuple[int, int] = (10, 30)
    speech_words: tuple[int, int] = (5, 15)
    eval_rows: int = 16


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    schedule: str = "cosine"
    warmup_steps: int = 10
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    global_batch: int = 8  # rows per optimizer step, over all ranks and accumulation steps
    micro_batch: int = 4  # rows per forward pass on one rank

    def __post_init__(self) -> None:
        _choice("optim.schedule", self.schedule, SCHEDULES)
        if self.global_batch % self.micro_batch:
            raise ValueError(f"optim.global_batch {self.global_batch} is not a multiple of optim.micro_batch "
                             f"{self.micro_batch}")


@dataclass(frozen=True)
class DistConfig:
    strategy: str = "ddp"
    precision: str = "auto"  # auto: bf16 on GPUs that support it, fp32 on CPU

    def __post_init__(self) -> None:
        _choice("dist.strategy", self.strategy, STRATEGIES)
        _choice("dist.precision", self.precision, PRECISIONS)


@dataclass(frozen=True)
class TrainConfig:
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    dist: DistConfig = field(default_factory=DistConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _choice(name: str, value, valid: tuple) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(str, valid))}")


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(f'{where}.{k}' if where else k for k in unknown)}; "
                         f"valid{' in ' + where if where else ''}: {', '.join(fields)}")
    kwargs = {}
    for name, value in values.items():
        sub = fields[name].type
        if dataclasses.is_dataclass(globals().get(str(sub), None)):
            value = _build(globals()[str(sub)], value or {}, name)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def _set(tree: dict, dotted: str) -> None:
    if "=" not in dotted:
        raise ValueError(f"override {dotted!r} must look like section.key=value")
    key, value = dotted.split("=", 1)
    *parents, leaf = key.strip().split(".")
    node = tree
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = yaml.safe_load(value)


def config_from_dict(values: dict, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in (values or {}).items()}
    for o in overrides:
        _set(values, o)
    return _build(TrainConfig, values, "")


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a YAML recipe. Relative paths in it stay relative to the working directory."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {path} does not exist")
    return config_from_dict(yaml.safe_load(path.read_text()) or {}, overrides)
