"""lm.quantize: int8 dynamic quantization keeps the LM's predictions and runs through generation."""

from __future__ import annotations

import pytest
import torch

from spiritlm.generation.pipeline import SpiritLM
from spiritlm.lm.quantize import quantize_lm

pytestmark = pytest.mark.usefixtures("one_thread")


def test_int8_follows_fp32_and_generates(tiny_small_dir):
    fp32 = SpiritLM.from_pretrained(tiny_small_dir)
    int8 = SpiritLM.from_pretrained(tiny_small_dir, quantize="int8")
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in fp32.model.modules())
    assert not any(isinstance(m, torch.nn.Linear) for m in int8.model.modules())
    assert sum(m._get_name() == "DynamicQuantizedLinear" for m in int8.model.modules()) == n_linear > 0
    ids = torch.randint(0, fp32.layout.vocab_size, (2, 48), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = fp32.model(ids).logits.log_softmax(-1)
        b = int8.model(ids).logits.log_softmax(-1)
    kl = (a.exp() * (a - b)).sum(-1).mean().item()
    top1 = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    assert kl < 1e-3 and top1 > 0.95, (kl, top1)
    r = int8.generate([("text", "the cat")], output_modality="text", max_new_tokens=8, seed=0)
    assert r.prompt == "[Text]the cat" and 1 <= len(r.new_ids) <= 8


def test_bad_quantization_requests(tiny_small_dir):
    with pytest.raises(ValueError, match="unknown quantization 'int3'; valid: int8, int8-weight, int4"):
        SpiritLM.from_pretrained(tiny_small_dir, quantize="int3")
    lm = SpiritLM.from_pretrained(tiny_small_dir, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="needs an fp32 model, got torch.bfloat16"):
        quantize_lm(lm.model)


def test_cli_offers_every_quantize_option(capsys):
    """`--quantize` lists exactly what `from_pretrained(quantize=)` accepts, and a bad one is refused by name."""
    from spiritlm.cli import main
    from spiritlm.lm.quantize_options import QUANTIZE_OPTIONS

    with pytest.raises(SystemExit):
        main(["generate", "--model", "x", "--text", "hi", "--quantize", "int3"])
    err = capsys.readouterr().err
    assert "invalid choice: 'int3'" in err and all(f"'{q}'" in err for q in QUANTIZE_OPTIONS)
