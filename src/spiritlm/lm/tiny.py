"""Tiny random Spirit LM checkpoints in the official folder layout, for tests and the offline demo.

`write_tiny_checkpoint` writes what Meta ships for `spirit-lm-{base,expressive}-7b` (config.json,
generation_config.json, pytorch_model.bin, tokenizer.model, tokenizer_config.json,
special_tokens_map.json), only small: a SentencePiece BPE model trained here with Llama-2's settings
and a Llama with a few thousand parameters per layer. With `text_vocab_size=32000` the SentencePiece
model is padded with unused pieces, so the ids follow the official layout exactly (vocab 32512 /
32768) while the network stays tiny.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path

from ..vocab import TokenLayout

VARIANTS = ("base", "expressive")


def tiny_corpus() -> list[str]:
    text = resources.files("spiritlm").joinpath("assets/tiny_corpus.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def train_sentencepiece(vocab_size: int = 512, sentences: list[str] | None = None) -> bytes:
    """A BPE SentencePiece model with Llama-2's settings (ids: <unk>=0, <s>=1, </s>=2; byte fallback)."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences or tiny_corpus()), model_writer=buf, vocab_size=vocab_size,
        model_type="bpe", byte_fallback=True, split_digits=True, add_dummy_prefix=True,
        remove_extra_whitespaces=False, normalization_rule_name="identity", allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, character_coverage=1.0, num_threads=1,
        minloglevel=2,
    )
    return buf.getvalue()


def pad_sentencepiece(model: bytes, size: int) -> bytes:
    """Append UNUSED pieces (never produced by encoding) until the model has `size` pieces."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(model)
    if len(proto.pieces) > size:
        raise ValueError(f"the SentencePiece model already has {len(proto.pieces)} pieces (> {size})")
    for i in range(len(proto.pieces), size):
        piece = proto.pieces.add()
        piece.piece, piece.score, piece.type = f"<unused{i}>", 0.0, pb.ModelProto.SentencePiece.UNUSED
    return proto.SerializeToString()


def tiny_llama_config(layout: TokenLayout, hidden: int = 32, layers: int = 2, heads: int = 2,
                      rope_theta: float = 100000.0, max_positions: int = 2048):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=layout.vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=max_positions, rope_theta=rope_theta, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, rms_norm_eps=1e-5,
    )


def write_tiny_checkpoint(path: str | Path, variant: str = "base", text_vocab_size: int | None = None,
                          hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0,
                          weights: str = "bin") -> Path:
    """Write a random checkpoint folder in the official layout; returns the folder.

    `text_vocab_size=None` keeps the tiny SentencePiece vocabulary (512); 32000 gives the official ids.
    `weights` is "bin" (official `pytorch_model.bin`) or "safetensors".
    """
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    if weights not in ("bin", "safetensors"):
        raise ValueError(f"unknown weights format {weights!r}; valid: bin, safetensors")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    sp_model = train_sentencepiece()
    if text_vocab_size is not None:
        sp_model = pad_sentencepiece(sp_model, text_vocab_size)
    (path / "tokenizer.model").write_bytes(sp_model)
    n_text = text_vocab_size or 512
    layout = TokenLayout.base(n_text) if variant == "base" else TokenLayout.expressive(n_text)

    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(layout, hidden, layers, heads)).eval()
    model.config.save_pretrained(path)
    GenerationConfig(bos_token_id=1, eos_token_id=2).save_pretrained(path)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if weights == "bin":
        torch.save(state, path / "pytorch_model.bin")
    else:
        from safetensors.torch import save_file

        save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    (path / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
    tok_config = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                  "legacy": True, "model_max_length": 4096, "pad_token": None, **specials}
    (path / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2))
    return path


def write_tiny_checkpoint_root(root: str | Path, variant: str = "base", **kwargs) -> Path:
    """`<root>/spiritlm_model/spirit-lm-<variant>-7b/` as the official checkpoints/README lays it out."""
    return write_tiny_checkpoint(Path(root) / "spiritlm_model" / f"spirit-lm-{variant}-7b", variant, **kwargs)
