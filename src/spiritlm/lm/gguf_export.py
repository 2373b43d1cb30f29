"""Export a Spirit LM checkpoint (Meta's layout) to GGUF for llama.cpp, and quantize it there.

    export_gguf("spirit-lm-base-7b", "base-7b.bf16.gguf", dtype="bf16")   # lossless for Meta's bf16
    quantize_gguf("base-7b.bf16.gguf", "base-7b.q4_0.gguf", "q4_0")         # llama.cpp's own quantizer

The weights stream one tensor at a time (`lazy_load.iter_checkpoint`): the tensor table is written
first from the checkpoint's headers, then each tensor is read, converted and appended, so a 7B export
holds one tensor in memory. Facts followed from llama.cpp's converter (read, not copied):

- tensor names `token_embd`, `blk.N.attn_q`, ... `output`; 1-D tensors (norms) are stored as f32;
- q_proj / k_proj rows are permuted from Hugging Face's rotate-half RoPE layout back to the
  interleaved pairs llama.cpp rotates (`_unpermute`);
- the vocabulary is a SentencePiece-style ("llama") token list of `vocab_size` entries: text pieces
  with their scores and types, then `[Text]`, `[Speech]`, `[Hu*]`, `[Pi*]`, `[St*]` as user-defined
  tokens and `[PAD<i>]` padding rows as unused ones, so every llama.cpp id is our id.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from .lazy_load import ST_DTYPES, checkpoint_files, iter_checkpoint

logger = logging.getLogger(__name__)

OUT_DTYPES = ("f32", "f16", "bf16")
QUANT_TYPES = {"q4_0": 2, "q8_0": 7, "f16": 1, "bf16": 32}  # llama_ftype values (llama.h)
_FILE_TYPE = {"f32": 0, "f16": 1, "bf16": 32}
_HF_TO_GGUF = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
               "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
               "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm",
               "post_attention_layernorm": "ffn_norm"}
# SentencePiece / llama.cpp token types
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def gguf_name(name: str) -> str:
    """Hugging Face Llama tensor name -> llama.cpp's name, or ValueError."""
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if name in fixed:
        return fixed[name]
    parts = name.split(".")
    if len(parts) == 6 and parts[:2] == ["model", "layers"] and parts[-1] == "weight":
        key = ".".join(parts[3:5])
    elif len(parts) == 5 and parts[:2] == ["model", "layers"] and parts[-1] == "weight":
        key = parts[3]
    else:
        key = None
    if key not in _HF_TO_GGUF:
        raise ValueError(f"tensor {name} has no llama.cpp counterpart (not a plain Llama weight)")
    return f"blk.{int(parts[2])}.{_HF_TO_GGUF[key]}.weight"


def _unpermute(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """Rows of a q/k projection: per head, HF's [first half | second half] -> llama.cpp's (even, odd) pairs."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def _tensor_table(folder: Path) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    """(name, shape, dtype) of every checkpoint tensor, in the order `iter_checkpoint` yields them,
    read from headers only (safetensors) or an mmap (pytorch_model.bin)."""
    table = []
    for file in checkpoint_files(folder):
        if file.endswith(".safetensors"):
            with open(folder / file, "rb") as f:
                header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
            table += [(k, tuple(v["shape"]), ST_DTYPES.get(v["dtype"], torch.float32))
                      for k, v in header.items() if k != "__metadata__"]
        else:
            state = torch.load(folder / file, map_location="cpu", mmap=True, weights_only=True)
            table += [(k, tuple(v.shape), v.dtype) for k, v in state.items()]
            del state
    return [t for t in table if "rotary_emb" not in t[0]]


def vocabulary(folder: Path, layout, vocab_size: int) -> tuple[list[str], list[float], list[int]]:
    """Token strings, scores and types for all `vocab_size` ids, each id's string unique."""
    from .text_tokenizer import TextTokenizer

    tok = TextTokenizer.from_dir(folder, layout)
    backend, n_text = tok.backend, layout.text_vocab_size
    sp = getattr(backend, "sp", None)
    tokens, scores, types = [], [], []
    for i in range(n_text):
        tokens.append(backend.piece(i))
        if sp is not None:
            scores.append(float(sp.get_score(i)))
            types.append(UNKNOWN if sp.is_unknown(i) else CONTROL if sp.is_control(i) else
                         UNUSED if sp.is_unused(i) else BYTE if sp.is_byte(i) else NORMAL)
        else:
            scores.append(0.0)
            types.append(CONTROL if i in (tok.bos_id, tok.eos_id, tok.unk_id) else NORMAL)
    for i in range(n_text, vocab_size):
        kind, _ = layout.token_of(i)
        tokens.append(f"[PAD{i}]" if kind == "pad" else layout.token_string(i))
        scores.append(0.0)
        types.append(UNUSED if kind == "pad" else USER_DEFINED)
    seen: dict[str, int] = {}
    for i, t in enumerate(tokens):
        if t in seen:
            raise ValueError(f"token string {t!r} is used by ids {seen[t]} and {i}; llama.cpp needs unique strings")
        seen[t] = i
    return tokens, scores, types


def _write_metadata(writer, config: dict, tok, tokens, scores, types, dtype: str) -> None:
    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    writer.add_context_length(config.get("max_position_embeddings", 4096))
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.get("num_key_value_heads") or heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    rope = config.get("rope_parameters") or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", config.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(_FILE_TYPE[dtype])
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(tok.bos_id)
    writer.add_eos_token_id(tok.eos_id)
    if tok.unk_id >= 0:
        writer.add_unk_token_id(tok.unk_id)
    writer.add_pad_token_id(tok.pad_id)
    writer.add_add_bos_token(tok.add_bos)
    writer.add_add_eos_token(False)


def _gguf_array(t: torch.Tensor, dtype: str) -> tuple[np.ndarray, object]:
    """A tensor as the numpy array GGUF stores and its GGML type (1-D tensors always f32)."""
    from gguf import GGMLQuantizationType as Q

    if t.ndim == 1 or dtype == "f32":
        return t.to(torch.float32).numpy(), Q.F32
    if dtype == "f16":
        return t.to(torch.float16).numpy(), Q.F16
    return t.to(torch.bfloat16).view(torch.int16).numpy(), Q.BF16


def export_gguf(name_or_path: str | os.PathLike, out: str | os.PathLike, dtype: str = "f16") -> Path:
    """Write the checkpoint as a GGUF file (`dtype`: f32, f16 or bf16 for the matrices). Returns `out`."""
    import gguf

    from ..checkpoints import resolve_lm_dir
    from .model import read_layout
    from .text_tokenizer import TextTokenizer

    if dtype not in OUT_DTYPES:
        raise ValueError(f"unknown GGUF dtype {dtype!r}; valid: {', '.join(OUT_DTYPES)}")
    folder = resolve_lm_dir(name_or_path)
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type", "llama") != "llama":
        raise ValueError(f"{folder} holds a {config.get('model_type')!r} model; the GGUF export handles Llama only")
    layout = read_layout(folder)
    tok = TextTokenizer.from_dir(folder, layout)
    tokens, scores, types = vocabulary(folder, layout, config["vocab_size"])
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    table = _tensor_table(folder)
    out = Path(out)
    writer = gguf.GGUFWriter(str(out), "llama")
    _write_metadata(writer, config, tok, tokens, scores, types, dtype)
    elem = {"f32": 4, "f16": 2, "bf16": 2}
    for name, shape, _ in table:
        raw = gguf.GGMLQuantizationType.F32 if len(shape) == 1 or dtype == "f32" else (
            gguf.GGMLQuantizationType.F16 if dtype == "f16" else gguf.GGMLQuantizationType.BF16)
        size = int(np.prod(shape)) * (4 if len(shape) == 1 else elem[dtype])
        writer.add_tensor_info(gguf_name(name), shape, np.float32 if raw == gguf.GGMLQuantizationType.F32
                               else np.float16, size, raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    expected = iter(table)
    for name, t in iter_checkpoint(folder):
        if "rotary_emb" in name:
            continue
        want = next(expected)[0]
        if name != want:
            raise ValueError(f"{folder}: tensor order changed while reading ({name} where {want} was listed)")
        if name.endswith("q_proj.weight"):
            t = _unpermute(t, heads)
        elif name.endswith("k_proj.weight"):
            t = _unpermute(t, kv_heads)
        array, _ = _gguf_array(t, dtype)
        writer.write_tensor_data(np.ascontiguousarray(array))
        del t, array
    writer.close()
    logger.info("wrote %s (%d tensors, %s)", out, len(table), dtype)
    return out


def quantize_gguf(src: str | os.PathLike, dst: str | os.PathLike, kind: str = "q4_0", threads: int = 0) -> Path:
    """Quantize a GGUF file with llama.cpp's own quantizer (`llama_model_quantize`); `kind` in QUANT_TYPES."""
    import ctypes

    import llama_cpp

    if kind not in QUANT_TYPES:
        raise ValueError(f"unknown llama.cpp quantization {kind!r}; valid: {', '.join(QUANT_TYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[kind]
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed ({rc}) on {src}")
    return Path(dst)
