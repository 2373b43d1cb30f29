"""A random Spirit LM checkpoint of any size in Meta's layout, written one tensor at a time.

For measuring 7B loading and decoding without Meta's weights: `config.json` with the 7B shape (32
layers, 4096 hidden, 11008 FFN, 32 heads, vocab 32512 Base / 32768 Expressive), the official key
names (`model.layers.N.self_attn.q_proj.weight`, ...), bf16 values, and the tokenizer files of the
tiny official-layout checkpoint (32000 text ids). Weights go to `model.safetensors`, streamed: the
header is computed from the shapes, then each tensor is drawn, written and freed.

    write_random_checkpoint("/tmp/spiritlm-7b/spirit-lm-base-7b", "base")          # ~13.5 GB
    write_random_checkpoint(tmp / "spirit-lm-base-7b", "base", hidden=64, layers=2, ffn=128, heads=2)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

SHAPE_7B = {"hidden": 4096, "layers": 32, "ffn": 11008, "heads": 32}


def tensor_shapes(vocab: int, hidden: int, layers: int, ffn: int, heads: int, kv_heads: int) -> dict[str, tuple]:
    d = hidden // heads
    shapes: dict[str, tuple] = {"model.embed_tokens.weight": (vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        shapes |= {a + "q_proj.weight": (hidden, hidden), a + "k_proj.weight": (kv_heads * d, hidden),
                   a + "v_proj.weight": (kv_heads * d, hidden), a + "o_proj.weight": (hidden, hidden),
                   p + "mlp.gate_proj.weight": (ffn, hidden), p + "mlp.up_proj.weight": (ffn, hidden),
                   p + "mlp.down_proj.weight": (hidden, ffn), p + "input_layernorm.weight": (hidden,),
                   p + "post_attention_layernorm.weight": (hidden,)}
    return shapes | {"model.norm.weight": (hidden,), "lm_head.weight": (vocab, hidden)}


def _draw(name: str, shape: tuple, g: torch.Generator) -> torch.Tensor:
    if len(shape) == 1:
        return torch.ones(shape, dtype=torch.bfloat16)
    std = 0.02 if "embed" in name or "lm_head" in name else shape[1] ** -0.5
    return (torch.randn(shape, generator=g) * std).to(torch.bfloat16)


def write_streamed_safetensors(path: str | os.PathLike, shapes: dict[str, tuple], seed: int = 0) -> int:
    """bf16 tensors of `shapes`, drawn one at a time; returns the bytes written."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = 2 * int(torch.Size(shape).numel())
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    g = torch.Generator().manual_seed(seed)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        for name, shape in shapes.items():
            f.write(_draw(name, shape, g).view(torch.uint16).numpy().tobytes())
    return 8 + len(raw) + offset


def write_random_checkpoint(path: str | os.PathLike, variant: str = "base", hidden: int = SHAPE_7B["hidden"],
                            layers: int = SHAPE_7B["layers"], ffn: int = SHAPE_7B["ffn"],
                            heads: int = SHAPE_7B["heads"], seed: int = 0) -> Path:
    """A checkpoint folder in Meta's layout with random bf16 weights of the given shape (default: 7B)."""
    from .tiny import write_tiny_checkpoint

    path = Path(path)
    write_tiny_checkpoint(path, variant, text_vocab_size=32000, seed=seed, weights="safetensors")
    config = json.loads((path / "config.json").read_text())
    config |= {"hidden_size": hidden, "num_hidden_layers": layers, "intermediate_size": ffn,
               "num_attention_heads": heads, "num_key_value_heads": heads, "head_dim": hidden // heads,
               "tie_word_embeddings": False, "torch_dtype": "bfloat16", "rope_theta": 10000.0,
               "max_position_embeddings": 4096}
    if "rope_parameters" in config:
        config["rope_parameters"] = {"rope_theta": 10000.0, "rope_type": "default"}
    (path / "config.json").write_text(json.dumps(config, indent=2))
    shapes = tensor_shapes(config["vocab_size"], hidden, layers, ffn, heads, heads)
    write_streamed_safetensors(path / "model.safetensors", shapes, seed)
    return path
