"""Vocabulary extension: turn a text LM (any Llama-family `transformers` checkpoint) into a Spirit LM.

Spirit LM appends rows to the embedding and output matrices of its text LM, one per new token, in
the order of `spiritlm.vocab.TokenLayout`, then pads the matrices to a multiple (256 in the
release). For Llama-2's 32,000 text ids this gives exactly the official ids::

    0..31999 text | 32000 [Text] | 32001 [Speech] | 32002..32502 Hu | (32503..32566 Pi | 32567..32666 St)
    Base: 32512 rows (9 padding rows)        Expressive: 32768 rows (101 padding rows)

Text rows are kept unchanged. New rows are drawn from N(0, initializer_range²) as in the paper
(App. A, "randomly initialised as in AudioPaLM"), or, with ``init="mean"``, set to the mean of the
text rows plus a little noise so that the model's first predictions of speech tokens are no worse
than those of an average word. The RoPE base is a setting too (paper: 10,000 -> 100,000).

A checkpoint we extend is written as safetensors + config.json + the text tokenizer files +
`spiritlm.json` (the layout), so `spiritlm.lm.model.load_lm` reads it back without guessing.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..vocab import TokenLayout

logger = logging.getLogger(__name__)

VARIANTS = ("base", "expressive")
INITS = ("random", "mean")
TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class ExtendConfig:
    """How to extend: which tokens, how to initialise them, padding and RoPE base."""

    variant: str = "base"
    init: str = "random"
    pad_multiple: int = 256
    rope_theta: float | None = 100000.0  # None keeps the checkpoint's RoPE base
    init_std: float | None = None  # None: the checkpoint's initializer_range
    mean_noise: float = 1e-3  # std of the noise added to mean-initialised rows
    seed: int = 0
    n_hubert: int = 501  # unit inventories (the released sizes; smaller for our own tokenizers)
    n_pitch: int = 64
    n_style: int = 100

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; valid: {', '.join(VARIANTS)}")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; valid: {', '.join(INITS)}")
        if self.pad_multiple < 1:
            raise ValueError(f"pad_multiple must be >= 1, got {self.pad_multiple}")
        if self.rope_theta is not None and self.rope_theta <= 0:
            raise ValueError(f"rope_theta must be positive, got {self.rope_theta}")


def spirit_layout(text_vocab_size: int, config: ExtendConfig = ExtendConfig()) -> TokenLayout:
    """The layout of the extended model: text ids, markers, units, padded to `pad_multiple`."""
    n_pitch, n_style = (config.n_pitch, config.n_style) if config.variant == "expressive" else (0, 0)
    used = TokenLayout(text_vocab_size, config.n_hubert, n_pitch, n_style).n_used
    return TokenLayout(text_vocab_size, config.n_hubert, n_pitch, n_style,
                       vocab_size=-(-used // config.pad_multiple) * config.pad_multiple)


def _new_rows(text_rows, n_new: int, config: ExtendConfig, std: float, generator):
    import torch

    d = text_rows.shape[1]
    noise = torch.randn(n_new, d, generator=generator, dtype=torch.float32)  # [N, D]
    if config.init == "random":
        return noise * std
    return text_rows.float().mean(dim=0, keepdim=True) + noise * config.mean_noise


def set_rope_theta(model, theta: float) -> None:
    """Change the RoPE base of a loaded Llama model (config and the rotary tables it caches)."""
    cfg = model.config
    params = dict(getattr(cfg, "rope_parameters", None) or {"rope_type": "default"})
    params["rope_theta"] = float(theta)
    cfg.rope_parameters = params
    if hasattr(cfg, "rope_theta"):
        cfg.rope_theta = float(theta)
    rotary = model.model.rotary_emb
    device = rotary.inv_freq.device
    model.model.rotary_emb = type(rotary)(config=cfg).to(device)


def extend_vocabulary(model, text_vocab_size: int, config: ExtendConfig = ExtendConfig()) -> TokenLayout:
    """Resize `model` (a `LlamaForCausalLM`, in place) to the Spirit layout; returns the layout."""
    import torch

    layout = spirit_layout(text_vocab_size, config)
    emb = model.get_input_embeddings().weight  # [V0, D]
    if emb.shape[0] < text_vocab_size:
        raise ValueError(f"the model has {emb.shape[0]} embedding rows, fewer than the tokenizer's "
                         f"{text_vocab_size} text ids: tokenizer and model do not match")
    if emb.shape[0] > text_vocab_size:
        logger.warning("dropping embedding rows %d..%d beyond the text vocabulary: they become Spirit tokens",
                       text_vocab_size, emb.shape[0] - 1)
    std = config.init_std if config.init_std is not None else float(model.config.initializer_range)
    gen = torch.Generator().manual_seed(config.seed)
    n_new = layout.vocab_size - text_vocab_size
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    out = model.get_output_embeddings().weight
    new_in = _new_rows(emb.data[:text_vocab_size], n_new, config, std, gen)
    new_out = None if tied else _new_rows(out.data[:text_vocab_size], n_new, config, std, gen)
    model.resize_token_embeddings(layout.vocab_size, mean_resizing=False)
    with torch.no_grad():
        weight = model.get_input_embeddings().weight  # [V, D]
        weight[text_vocab_size:] = new_in.to(weight.dtype)
        if new_out is not None:
            head = model.get_output_embeddings().weight  # [V, D]
            head[text_vocab_size:] = new_out.to(head.dtype)
    model.config.vocab_size = layout.vocab_size
    if config.rope_theta is not None:
        set_rope_theta(model, config.rope_theta)
    logger.info("extended vocabulary %d -> %d (%s, %s init)", text_vocab_size, layout.vocab_size,
                config.variant, config.init)
    return layout


def extend_checkpoint(src: str | Path, dst: str | Path, config: ExtendConfig = ExtendConfig()) -> Path:
    """Read a text-LM folder (config.json, weights, tokenizer), write the extended Spirit checkpoint."""
    import torch
    from transformers import LlamaForCausalLM

    from .model import write_layout
    from .text_tokenizer import TextTokenizer

    src, dst = Path(src), Path(dst)
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src} is not a transformers checkpoint: config.json is missing")
    text_vocab = TextTokenizer.from_dir(src).text_vocab_size
    model = LlamaForCausalLM.from_pretrained(src, dtype=torch.float32)
    layout = extend_vocabulary(model, text_vocab, config)
    dst.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dst)
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)
    write_layout(dst, layout, source=str(src), init=config.init, rope_theta=config.rope_theta)
    return dst
