"""Load a Spirit LM checkpoint folder into `transformers.LlamaForCausalLM` + `TextTokenizer`.

A folder holds `config.json`, weights (`pytorch_model.bin`, `model.safetensors` or a sharded index),
and the text tokenizer. Its `TokenLayout` comes from `spiritlm.json` when we wrote the checkpoint,
else from the official rule: the text vocabulary size of the tokenizer plus the embedding size in
`config.json` (32000 text ids and 32512 rows = Base, 32768 rows = Expressive).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import OFFICIAL_LM_NAMES, resolve_lm_dir, verify_root_of
from ..errors import CheckpointError, InvalidInput
from ..torch_files import readable_weights
from ..vocab import TokenLayout
from .quantize_options import QUANTIZE_OPTIONS
from .text_tokenizer import TextTokenizer

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
LAYOUT_FILE = "spiritlm.json"
LAZY_QUANTIZE = {"int8-weight": "int8", "int4": "int4"}  # quantize= options of the lazy loader


@dataclass
class LoadedLM:
    model: object  # transformers.LlamaForCausalLM
    tokenizer: TextTokenizer
    layout: TokenLayout
    path: Path

    @property
    def variant(self) -> str:
        return "expressive" if self.layout.is_expressive else "base"


def read_layout(path: str | os.PathLike) -> TokenLayout:
    """The token layout of a checkpoint folder, checked against its files."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{path} is not a model checkpoint: config.json is missing")
    vocab_size = json.loads(config_file.read_text()).get("vocab_size")
    if not isinstance(vocab_size, int):
        raise ValueError(f"{config_file} has no integer vocab_size")
    if (path / LAYOUT_FILE).is_file():
        layout = TokenLayout.from_dict(json.loads((path / LAYOUT_FILE).read_text())["layout"])
    else:
        text_size = TextTokenizer.from_dir(path).text_vocab_size
        layout = TokenLayout.infer(text_size, vocab_size) if vocab_size >= text_size + 503 else None
        if layout is None:
            raise ValueError(
                f"vocab_size {vocab_size} in {config_file} does not fit the Spirit layout: the text tokenizer has "
                f"{text_size} ids, so the model needs at least {text_size + 503} rows (Base) or "
                f"{text_size + 667} (Expressive)")
    if layout.vocab_size != vocab_size:
        raise ValueError(f"{LAYOUT_FILE} says vocabulary {layout.vocab_size} but config.json says {vocab_size}")
    stem = path.name
    if stem in OFFICIAL_LM_NAMES and ("expressive" in stem) != layout.is_expressive:
        raise ValueError(f"{stem} should be {'Expressive' if 'expressive' in stem else 'Base'} but its vocabulary "
                         f"({vocab_size}) is that of a {'Expressive' if layout.is_expressive else 'Base'} model")
    return layout


def write_layout(path: str | os.PathLike, layout: TokenLayout, **extra) -> None:
    Path(path, LAYOUT_FILE).write_text(json.dumps({"layout": layout.to_dict(), **extra}, indent=2))


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def check_device(device) -> str:
    """A torch device string that exists on this machine, or `InvalidInput` listing the valid ones."""
    import torch

    valid = ["cpu"]
    if torch.cuda.is_available():
        valid += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        valid.append("mps")
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidInput(f"unknown device {device!r}; valid on this machine: {', '.join(valid)}") from None
    if d.type == "cpu":
        return "cpu"
    if str(d) not in valid:
        raise InvalidInput(f"device {device!r} is not available on this machine; valid: {', '.join(valid)}")
    return str(d)


def load_lm(name_or_path: str | os.PathLike, device: str | None = None, dtype=None,
            quantize: str | None = None) -> LoadedLM:
    """Load model + tokenizer. fp32 on CPU (no fast bf16 there), bf16 on GPU, unless `dtype` says.
    `quantize="int8"`: int8 dynamic quantization of the linear layers (CPU; see `lm/quantize.py`);
    `"int8-weight"` / `"int4"`: weight-only int8 / int4 (group 128) loaded lazily, for 7B on CPU (`lm/lazy_load.py`);
    `"llamacpp-q4_0"` / `"llamacpp-q8_0"` / `"llamacpp-f16"` / `"llamacpp-f32"`: llama.cpp on a GGUF export
    (`lm/llamacpp.py`, optional extra `llamacpp`)."""
    import torch
    import transformers
    from transformers import LlamaForCausalLM

    device = check_device(device) if device is not None else default_device()
    path = resolve_lm_dir(name_or_path)
    checked = verify_root_of(path)  # shipped bundles carry a sha256 manifest
    if checked:
        logger.info("sha256 manifest: %d files intact", checked)
    layout = read_layout(path)
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        raise FileNotFoundError(f"no weights in {path}: expected one of {', '.join(WEIGHT_FILES)}")
    tokenizer = TextTokenizer.from_dir(path, layout)
    if isinstance(quantize, str) and quantize.startswith("llamacpp-"):
        from .llamacpp import load_llamacpp

        if str(device or "cpu") != "cpu":
            raise InvalidInput(f"quantize={quantize!r} runs on CPU; got device {device!r}")
        per_weight = {"f32": 4.0, "f16": 2.0, "q8_0": 1.0625, "q4_0": 0.5625}.get(quantize.removeprefix("llamacpp-"))
        if per_weight:
            check_memory(path, per_weight, quantize)
        return LoadedLM(load_llamacpp(path, quantize.removeprefix("llamacpp-")), tokenizer, layout, path)
    if quantize in LAZY_QUANTIZE:  # weight-only int8 / int4, loaded tensor by tensor (lm/lazy_load.py)
        from .lazy_load import build_lazy

        if str(device or "cpu") != "cpu":
            raise ValueError(f"quantize={quantize!r} runs on CPU; got device {device!r}")
        return LoadedLM(build_lazy(path, LAZY_QUANTIZE[quantize]), tokenizer, layout, path)
    if quantize is not None:
        from .quantize import QUANT_MODES

        if quantize not in QUANT_MODES:
            raise InvalidInput(f"unknown quantization {quantize!r}; valid: {', '.join(QUANTIZE_OPTIONS)}")
    if dtype is None:
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    if str(device) == "cpu":
        check_memory(path, torch.empty((), dtype=dtype).element_size(), quantize)
    key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    logger.info("loading LM from %s (%s, %s)", path, device, dtype)
    try:
        with readable_weights(path, "the LM weights"):
            model, info = LlamaForCausalLM.from_pretrained(path, output_loading_info=True, **{key: dtype})
    except (RuntimeError, ValueError) as e:
        if "mismatch" not in str(e) or isinstance(e, CheckpointError):
            raise
        raise ValueError(f"the weights in {path} do not match its config.json (tensor shapes differ): {e}") from e
    _check_loading(path, info)
    model = model.to(device).eval()
    if quantize:
        from .quantize import quantize_lm

        quantize_lm(model, quantize)
    return LoadedLM(model, tokenizer, layout, path)


def available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (MemAvailable), None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(path: Path, bytes_per_weight: float, quantize: str | None) -> None:
    """Refuse, before reading any weight, to load a checkpoint whose weights at `bytes_per_weight` do not fit in
    the memory available (a 7B model in fp32 needs 27 GB): the alternatives are named, where the kernel would
    otherwise kill the process without a word."""
    files = [path / f for f in ("model.safetensors", "pytorch_model.bin") if (path / f).is_file()]
    files += sorted(path.glob("model-*-of-*.safetensors")) + sorted(path.glob("pytorch_model-*-of-*.bin"))
    stored = sum(f.stat().st_size for f in files)
    avail = available_memory()
    if not stored or avail is None:
        return
    try:
        stored_dtype = json.loads((path / "config.json").read_text()).get("torch_dtype") or "float32"
    except (OSError, ValueError):
        stored_dtype = "float32"
    per_stored = 2 if str(stored_dtype) in ("bfloat16", "float16") else 4
    need = int(stored * bytes_per_weight / per_stored)
    if need > avail:
        raise InvalidInput(
            f"loading {path} with {bytes_per_weight:g}-byte weights{f' (quantize={quantize!r})' if quantize else ''}"
            f" needs about {need / 1e9:.1f} GB, but this machine has {avail / 1e9:.1f} GB available; load it with "
            f"quantize='llamacpp-q4_0' (about {stored / per_stored * 0.5625 / 1e9:.1f} GB, `make llamacpp`), "
            f"'int4' or 'int8-weight' (weight-only, read tensor by tensor)")


def _check_loading(path: Path, info: dict) -> None:
    """transformers only warns (and re-initialises randomly) on missing or mis-shaped weights: refuse instead."""
    problems = []
    missing = [k for k in info.get("missing_keys", []) if "rotary_emb" not in k]
    if missing:
        problems.append(f"missing {sorted(missing)[:5]}")
    mismatched = info.get("mismatched_keys", [])
    if mismatched:
        problems.append("wrong shape " + ", ".join(f"{m[0]} {tuple(m[1])} (expected {tuple(m[2])})"
                                                  if isinstance(m, (tuple, list)) and len(m) == 3 else str(m)
                                                  for m in list(mismatched)[:5]))
    unexpected = [k for k in info.get("unexpected_keys", []) if "rotary_emb" not in k]
    if unexpected:
        problems.append(f"unexpected {sorted(unexpected)[:5]}")
    if problems:
        raise ValueError(f"the weights in {path} do not match its config.json: " + "; ".join(problems))
