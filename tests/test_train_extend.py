"""Vocabulary extension: official id layout for a Llama-2-sized text vocabulary, inits, RoPE base."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from spiritlm.lm.extend import ExtendConfig, extend_checkpoint, extend_vocabulary, spirit_layout
from spiritlm.lm.model import load_lm
from spiritlm.lm.tiny import pad_sentencepiece, train_sentencepiece


def _text_lm(vocab: int, tie: bool = False, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=tie, bos_token_id=1,
                      eos_token_id=2)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="module")
def llama2_sized_text_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("text_lm")
    (path / "tokenizer.model").write_bytes(pad_sentencepiece(train_sentencepiece(), 32000))
    (path / "tokenizer_config.json").write_text(json.dumps({"add_bos_token": True}))
    _text_lm(32000).save_pretrained(path)
    return path


def test_official_layout_sizes():
    assert spirit_layout(32000).vocab_size == 32512
    expressive = spirit_layout(32000, ExtendConfig(variant="expressive"))
    assert expressive.vocab_size == 32768
    assert expressive.unit_id("style", 99) == 32666 and expressive.unit_id("pitch", 0) == 32503
    assert spirit_layout(49152).vocab_size == 49664 and spirit_layout(49152, ExtendConfig(pad_multiple=1)).vocab_size \
        == 49152 + 503


@pytest.mark.parametrize("variant,size", [("base", 32512), ("expressive", 32768)])
def test_extend_checkpoint_follows_official_ids(llama2_sized_text_ckpt, tmp_path, variant, size):
    src = llama2_sized_text_ckpt
    dst = extend_checkpoint(src, tmp_path / variant, ExtendConfig(variant=variant))
    original = LlamaForCausalLM.from_pretrained(src, dtype=torch.float32)
    lm = load_lm(dst, device="cpu")
    assert lm.layout.vocab_size == size and lm.layout.is_expressive == (variant == "expressive")
    assert lm.model.config.rope_parameters["rope_theta"] == 100000.0
    assert lm.model.model.rotary_emb.inv_freq[1].item() == pytest.approx(100000.0 ** (-2 / 8))
    emb, head = lm.model.get_input_embeddings().weight, lm.model.get_output_embeddings().weight
    assert emb.shape == (size, 16) and head.shape == (size, 16)
    assert torch.equal(emb[:32000], original.get_input_embeddings().weight)
    assert torch.equal(head[:32000], original.get_output_embeddings().weight)
    assert emb[32000:].std().item() == pytest.approx(0.02, rel=0.1)  # random init, initializer_range
    ids = lm.tokenizer.encode("[Text]hi[Speech][Hu0][Hu500]")
    assert ids[:2] == [1, 32000] and ids[-3:] == [32001, 32002, 32502]


def test_text_logits_unchanged_without_rope_change():
    model = _text_lm(300)
    x = torch.randint(0, 300, (2, 9))
    before = model(x).logits  # [B, T, 300]
    layout = extend_vocabulary(model, 300, ExtendConfig(rope_theta=None, variant="expressive"))
    after = model(x).logits  # [B, T, V]
    assert after.shape[-1] == layout.vocab_size == 1024
    assert torch.allclose(after[..., :300], before, atol=1e-6)


def test_mean_init_and_tied_embeddings():
    model = _text_lm(300, tie=True)
    text_mean = model.get_input_embeddings().weight[:300].mean(0).detach().clone()
    extend_vocabulary(model, 300, ExtendConfig(init="mean", mean_noise=0.0))
    new = model.get_input_embeddings().weight[300:]
    assert torch.allclose(new, text_mean.expand_as(new))
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


def test_deterministic_by_seed_and_bad_input():
    a, b = _text_lm(300), _text_lm(300)
    extend_vocabulary(a, 300, ExtendConfig(seed=3))
    extend_vocabulary(b, 300, ExtendConfig(seed=3))
    assert torch.equal(a.get_input_embeddings().weight, b.get_input_embeddings().weight)
    with pytest.raises(ValueError, match="fewer than the tokenizer"):
        extend_vocabulary(_text_lm(100), 300)
    with pytest.raises(ValueError, match="valid: random, mean"):
        ExtendConfig(init="zeros")
    with pytest.raises(ValueError, match="valid: base, expressive"):
        ExtendConfig(variant="big")


def test_layout_sized_to_a_smaller_unit_inventory():
    layout = spirit_layout(512, ExtendConfig(variant="expressive", n_hubert=100, n_pitch=16, n_style=8))
    assert (layout.n_hubert, layout.n_pitch, layout.n_style) == (100, 16, 8)
    assert layout.unit_id("style", 7) == 512 + 2 + 100 + 16 + 7 and layout.vocab_size == 768
    assert spirit_layout(512, ExtendConfig(n_hubert=100, n_pitch=16)).n_pitch == 0  # Base ignores pitch/style
