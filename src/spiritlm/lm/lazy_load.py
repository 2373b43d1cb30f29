"""Load a large LM one tensor at a time, converting or quantizing each as it arrives.

`transformers.from_pretrained` on Meta's bf16 `pytorch_model.bin` (13.5 GB) holds the file's tensors
and the converted fp32 model at once. Here the model is built on the meta device (no memory), then
each checkpoint tensor is read alone, turned into its final form (fp32, or int8 / int4 weight-only for
the linear layers, `weight_only.py`) and put in place, so that the peak stays near the final weights:

- safetensors: the header is parsed here and each tensor read with `readinto` into its own buffer
  (no mapping of the whole file stays resident);
- pytorch_model.bin: `torch.load(mmap=True, weights_only=True)`; after each tensor is converted its
  pages are dropped from this process with `madvise(MADV_DONTNEED)` (they are clean file pages).

    lm = load_lm_lazy("spirit-lm-base-7b", quantize="int4")    # -> LoadedLM, ready for FastDecoder
"""

from __future__ import annotations

import ctypes
import json
import logging
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from .weight_only import WEIGHT_ONLY_MODES, WeightOnlyLinear

logger = logging.getLogger(__name__)

ST_DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "I64": torch.int64}


def iter_safetensors(path: str | os.PathLike) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) of a .safetensors file, one at a time, each in memory only while the caller holds it."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if info["dtype"] not in ST_DTYPES:
                raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}; supported: {', '.join(ST_DTYPES)}")
            start, end = info["data_offsets"]
            t = torch.empty(info["shape"], dtype=ST_DTYPES[info["dtype"]])
            f.seek(base + start)
            if f.readinto(memoryview(t.view(torch.uint8).reshape(-1).numpy())) != end - start:
                raise ValueError(f"{path} is truncated inside tensor {name}")
            yield name, t


def _drop_pages(t: torch.Tensor) -> None:
    """Release the file pages behind an mmap-loaded tensor from this process's resident set."""
    size = t.untyped_storage().nbytes()
    start = t.untyped_storage().data_ptr()
    page = mmap.PAGESIZE
    lo = (start + page - 1) // page * page  # only whole pages inside this tensor
    hi = (start + size) // page * page
    if hi > lo:
        ctypes.CDLL(None).madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), 4)  # MADV_DONTNEED


def iter_torch_bin(path: str | os.PathLike) -> Iterator[tuple[str, torch.Tensor]]:
    state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    for name in list(state):
        t = state.pop(name)
        yield name, t
        _drop_pages(t)


def checkpoint_files(folder: Path) -> list[str]:
    """The weight files of a checkpoint folder, in reading order: the shards of an index, else the one file."""
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).is_file():
            return sorted(set(json.loads((folder / index).read_text())["weight_map"].values()))
    return ["model.safetensors"] if (folder / "model.safetensors").is_file() else ["pytorch_model.bin"]


def iter_checkpoint(folder: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor of a checkpoint folder (single file or sharded index), one at a time."""
    for name in checkpoint_files(folder):
        yield from (iter_safetensors if name.endswith(".safetensors") else iter_torch_bin)(folder / name)


def _place(model: nn.Module, name: str, t: torch.Tensor, quantize: str | None, group_size: int) -> None:
    owner_name, _, attr = name.rpartition(".")
    owner = model.get_submodule(owner_name)
    if quantize and attr == "weight" and isinstance(owner, nn.Linear):
        parent_name, _, child = owner_name.rpartition(".")
        k = t.shape[1]
        group = next((g for g in (group_size, 64, 32) if k % g == 0), None) if quantize == "int4" else group_size
        if group is None:
            raise ValueError(f"int4 needs {name}'s input width ({k}) divisible by {group_size}, 64 or 32")
        model.get_submodule(parent_name).register_module(child, WeightOnlyLinear.from_weight(t, quantize, group))
        return
    setattr(owner, attr, nn.Parameter(t.to(torch.float32), requires_grad=False))


def build_lazy(folder: str | os.PathLike, quantize: str | None = None, group_size: int = 128):
    """A `LlamaForCausalLM` (CPU, fp32 norms/embeddings) from a checkpoint folder, tensor by tensor."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if quantize is not None and quantize not in WEIGHT_ONLY_MODES:
        raise ValueError(f"unknown quantize {quantize!r} for lazy loading; valid: None, {', '.join(WEIGHT_ONLY_MODES)}")
    folder = Path(folder)
    config = LlamaConfig.from_pretrained(folder)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    expected = {k for k in model.state_dict() if "rotary_emb" not in k}
    seen = set()
    for name, t in iter_checkpoint(folder):
        if "rotary_emb" in name:
            continue
        if name not in expected:
            raise ValueError(f"{folder}: unexpected tensor {name} (not in a Llama with this config.json)")
        want = model.get_parameter(name).shape
        if tuple(t.shape) != tuple(want):
            raise ValueError(f"{folder}: {name} has shape {tuple(t.shape)}, config.json expects {tuple(want)}")
        _place(model, name, t, quantize, group_size)
        seen.add(name)
        del t
    if config.tie_word_embeddings and "lm_head.weight" not in seen:
        model.lm_head.weight = model.model.embed_tokens.weight
        seen.add("lm_head.weight")
    missing = sorted(expected - seen)
    if missing:
        raise ValueError(f"{folder}: the checkpoint lacks {missing[:5]}")
    model.model.rotary_emb = type(model.model.rotary_emb)(config=config)
    return model.eval()


def load_lm_lazy(name_or_path: str | os.PathLike, quantize: str | None = None, group_size: int = 128):
    """Like `load_lm` (tokenizer, layout, checks), but the weights load lazily; CPU only."""
    from ..checkpoints import resolve_lm_dir
    from .model import LoadedLM, read_layout
    from .text_tokenizer import TextTokenizer

    path = resolve_lm_dir(name_or_path)
    layout = read_layout(path)
    model = build_lazy(path, quantize, group_size)
    return LoadedLM(model, TextTokenizer.from_dir(path, layout), layout, path)
