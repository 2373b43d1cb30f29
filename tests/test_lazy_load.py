"""Lazy (tensor-by-tensor) loading, the streamed random checkpoint writer, and weight-only int8 / int4."""

import pytest
import torch

from spiritlm.generation.pipeline import SpiritLM
from spiritlm.lm.lazy_load import build_lazy, iter_safetensors, load_lm_lazy
from spiritlm.lm.model import load_lm
from spiritlm.lm.random_checkpoint import tensor_shapes, write_random_checkpoint
from spiritlm.lm.weight_only import WeightOnlyLinear


@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory):
    return write_random_checkpoint(tmp_path_factory.mktemp("r") / "spirit-lm-base-7b", "base", hidden=64, layers=2,
                                   ffn=128, heads=2, seed=4)


def test_writer_layout_and_lazy_equals_from_pretrained(small_ckpt):
    names = dict(iter_safetensors(small_ckpt / "model.safetensors"))
    shapes = tensor_shapes(32512, 64, 2, 128, 2, 2)
    assert {k: tuple(v.shape) for k, v in names.items()} == shapes
    assert names["model.layers.1.mlp.down_proj.weight"].dtype == torch.bfloat16
    ref = load_lm(small_ckpt, device="cpu").model
    lazy = load_lm_lazy(small_ckpt).model
    ids = torch.tensor([[1, 5, 900, 32010, 32100]])
    with torch.no_grad():
        torch.testing.assert_close(lazy(ids).logits, ref(ids).logits, rtol=0, atol=0)


def test_lazy_bin_equals_from_pretrained(tiny_root):
    folder = tiny_root / "spiritlm_model" / "spirit-lm-expressive-7b"
    assert (folder / "pytorch_model.bin").is_file()
    ref, lazy = load_lm(folder, device="cpu").model, build_lazy(folder)
    ids = torch.tensor([[1, 7, 32005, 32700]])
    with torch.no_grad():
        torch.testing.assert_close(lazy(ids).logits, ref(ids).logits, rtol=0, atol=0)


@pytest.mark.parametrize("mode,tol", [("int8", 0.01), ("int4", 0.12)])
def test_weight_only_linear_matches_dequantized(mode, tol):
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(96, 256, generator=g), torch.randn(3, 256, generator=g)
    lin = WeightOnlyLinear.from_weight(w, mode, group_size=64)
    rel = (lin(x) - x @ w.T).norm() / (x @ w.T).norm()
    assert 0 < rel < tol
    assert lin.weight_bytes == (96 * 256 + 96 * 4 if mode == "int8" else 96 * 128 + (256 // 64) * 96 * 2 * 4)


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_quantized_lazy_fast_equals_generate(small_ckpt, mode):
    lm = SpiritLM(load_lm_lazy(small_ckpt, quantize=mode, group_size=32))
    assert isinstance(lm.model.model.layers[0].mlp.up_proj, WeightOnlyLinear)
    kw = dict(output_modality="arbitrary", max_new_tokens=12, do_sample=False, synthesize=False)
    lm.fast_decode = False
    plain = lm.generate_batch([[("text", "a cat")], [("speech", "[Hu3][Hu4]")]], **kw)
    lm.fast_decode = True
    fast = lm.generate_batch([[("text", "a cat")], [("speech", "[Hu3][Hu4]")]], **kw)
    assert [r.new_ids for r in fast] == [r.new_ids for r in plain]
    assert all(len(r.new_ids) > 0 for r in fast)


def test_bad_quantize_name(small_ckpt):
    with pytest.raises(ValueError, match="valid: None, int8, int4"):
        build_lazy(small_ckpt, quantize="int3")


def test_load_lm_quantize_options(small_ckpt):
    lm = load_lm(small_ckpt, device="cpu", quantize="int4")
    assert lm.model.lm_head.mode == "int4"
    assert load_lm(small_ckpt, device="cpu", quantize="int8-weight").model.lm_head.mode == "int8"
    with pytest.raises(ValueError, match="valid: int8, int8-weight, int4"):
        load_lm(small_ckpt, device="cpu", quantize="int2")


def test_a_model_too_large_for_the_memory_is_refused_with_the_alternatives(tiny_small_dir, monkeypatch):
    from spiritlm.errors import InvalidInput
    from spiritlm.lm import model as lm_model

    monkeypatch.setattr(lm_model, "available_memory", lambda: 1000)
    with pytest.raises(InvalidInput, match=r"needs about .* GB, but this machine has 0.0 GB available; load it with "
                                           r"quantize='llamacpp-q4_0' .*'int4' or 'int8-weight'"):
        lm_model.load_lm(tiny_small_dir)
    with pytest.raises(InvalidInput, match=r"with 4-byte weights \(quantize='llamacpp-f32'\) needs about"):
        lm_model.load_lm(tiny_small_dir, quantize="llamacpp-f32")  # checked before any GGUF export
    monkeypatch.setattr(lm_model, "available_memory", lambda: None)  # unknown: no check
    assert lm_model.load_lm(tiny_small_dir).model is not None
