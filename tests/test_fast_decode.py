"""The fast decode loop (static KV cache) gives the same greedy tokens as `transformers.generate`."""

import pytest
import torch

from spiritlm.generation.decode import fast_reason
from spiritlm.generation.pipeline import SpiritLM
from spiritlm.generation.types import OutputModality
from spiritlm.lm.fast_decode import FastDecoder

PROMPTS = [[("text", "The cat sat on")], [("speech", "[Hu5][Hu6][Hu7][Hu9]")],
           [("text", "a dog"), ("speech", "[Hu7][Hu3]")]]


@pytest.fixture(scope="module")
def mini():
    return SpiritLM.from_pretrained("spirit-lm-mini-expressive")


def _both(lm, prompts, **kw):
    lm.fast_decode = False
    plain = lm.generate_batch(prompts, synthesize=False, **kw)
    lm.fast_decode = True
    fast = lm.generate_batch(prompts, synthesize=False, **kw)
    return plain, fast


@pytest.mark.parametrize("modality", ["text", "speech", "arbitrary"])
def test_fast_greedy_equals_generate_batch_and_single(mini, modality):
    plain, fast = _both(mini, PROMPTS, output_modality=modality, max_new_tokens=24, do_sample=False)
    assert [r.new_ids for r in fast] == [r.new_ids for r in plain]
    assert [r.finish_reason for r in fast] == [r.finish_reason for r in plain]
    assert all(len(r.new_ids) > 0 for r in fast)
    single = [mini.generate(p, output_modality=modality, max_new_tokens=24, do_sample=False, synthesize=False)
              for p in PROMPTS]
    assert [r.new_ids for r in single] == [r.new_ids for r in plain]


def test_fast_greedy_stop_rules_and_compat(mini):
    # A text turn stops at </s> or [Speech]; compat bans markers, so SPEECH runs to max_new_tokens.
    plain, fast = _both(mini, PROMPTS, output_modality="speech", max_new_tokens=16, do_sample=False, compat=True)
    assert [r.new_ids for r in fast] == [r.new_ids for r in plain]
    assert all(len(r.new_ids) == 16 for r in fast)
    plain, fast = _both(mini, PROMPTS[:1], output_modality="text", max_new_tokens=40, do_sample=False,
                        constrain=False)
    assert fast[0].new_ids == plain[0].new_ids


def test_tiny_official_layout_fast_equals_generate(tiny_root):
    lm = SpiritLM.from_pretrained(tiny_root / "spiritlm_model" / "spirit-lm-base-7b")
    plain, fast = _both(lm, PROMPTS, output_modality="arbitrary", max_new_tokens=20, do_sample=False)
    assert [r.new_ids for r in fast] == [r.new_ids for r in plain]


def test_decoder_matches_full_forward_logits(mini):
    model = mini.model
    ids = torch.tensor([[1, 50, 60, 70, 80, 90]])
    dec = FastDecoder(model)
    new = dec.generate(ids, max_new_tokens=5)
    seq = torch.cat([ids, new], 1)
    with torch.no_grad():
        ref = model(seq).logits[0, ids.shape[1] - 1:-1].argmax(-1)
    assert new[0].tolist() == ref.tolist()


def test_unhandled_options_fall_back(mini):
    from transformers import GenerationConfig

    cfg = GenerationConfig(max_new_tokens=4, repetition_penalty=1.3)
    assert "repetition_penalty" in fast_reason(mini.model, cfg, [])
    assert fast_reason(mini.model, GenerationConfig(max_new_tokens=4, do_sample=True, top_p=0.9), []) is None
    plain, fast = _both(mini, PROMPTS[:1], output_modality="text", max_new_tokens=12, do_sample=False,
                        repetition_penalty=1.3)
    assert fast[0].new_ids == plain[0].new_ids


def test_fast_sampling_respects_mask(mini):
    res = mini.generate_batch(PROMPTS, output_modality=OutputModality.SPEECH, max_new_tokens=30, do_sample=True,
                              temperature=1.5, top_k=0, seed=1, synthesize=False)
    hu_pi_st = set(range(mini.layout.id_range("hubert").start, mini.layout.vocab_size))
    ids = [i for r in res for i in r.new_ids]
    assert ids and set(ids) <= hu_pi_st | {mini.tokenizer.eos_id, mini.layout.text_marker_id}


def test_decoder_follows_weight_changes(tiny_root):
    lm = SpiritLM.from_pretrained(tiny_root / "spiritlm_model" / "spirit-lm-expressive-7b")
    ids = torch.tensor([[1, 50, 60, 70]])
    dec = FastDecoder(lm.model)
    dec.generate(ids, max_new_tokens=3)
    with torch.no_grad():  # an in-place update (a training step) must reach the fused weights
        for layer in lm.model.model.layers:
            layer.self_attn.q_proj.weight.mul_(-3.0)
            layer.mlp.up_proj.weight.add_(0.5)
    new = dec.generate(ids, max_new_tokens=6)
    with torch.no_grad():
        ref = lm.model(torch.cat([ids, new], 1)).logits[0, ids.shape[1] - 1:-1].argmax(-1)
    assert new[0].tolist() == ref.tolist()
