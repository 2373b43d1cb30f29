"""Quantizers: blank filling (fixed and official-compatible), the official file, k-means."""

from __future__ import annotations

import pytest
import torch

from spiritlm.speech.quantizer import (
    KmeansQuantizer,
    LinearQuantizer,
    LinearQuantizerConfig,
    fill_blanks,
)
from spiritlm.speech.quantizer import load as load_quantizer
from spiritlm.speech.random_checkpoints import random_quantizer

B = 10  # blank id in these vectors


def test_fill_blanks_fixed_and_compat_vectors():
    codes = torch.tensor([[B, B, 5, B, 7, 7, B, B, B, 9]])
    assert fill_blanks(codes, B).tolist() == [[5, 5, 5, 5, 7, 7, 7, 7, 7, 9]]
    # official: position 0 wraps around from the end (Appendix C.4 of the reference)
    assert fill_blanks(codes, B, compat=True).tolist() == [[9, 9, 5, 5, 7, 7, 7, 7, 7, 9]]


def test_fill_blanks_is_per_sequence_and_respects_lengths():
    codes = torch.tensor([[3, B, B, 4], [B, 2, B, B]])
    assert fill_blanks(codes, B).tolist() == [[3, 3, 3, 4], [2, 2, 2, 2]]
    # compat is the official torch.roll on the flattened [B, T] batch: row 1's leading blank takes
    # row 0's last unit, and row 0's first frame would wrap from the end of row 1
    assert fill_blanks(codes, B, compat=True).tolist() == [[3, 3, 3, 4], [4, 2, 2, 2]]
    assert fill_blanks(torch.tensor([[B, 3], [4, 5]]), B, compat=True).tolist() == [[5, 3], [4, 5]]
    # frames past a row's length are padding: left untouched
    assert fill_blanks(torch.tensor([[B, 6, B, B]]), B, torch.tensor([2])).tolist() == [[6, 6, B, B]]


def test_all_blank_sequence_keeps_blank(caplog):
    assert fill_blanks(torch.full((1, 4), B), B).tolist() == [[B] * 4]
    assert fill_blanks(torch.full((1, 4), B), B, compat=True).tolist() == [[B] * 4]
    assert "every frame" in caplog.text


def test_linear_quantizer_widths_and_official_file(tmp_path):
    cfg = LinearQuantizerConfig(vocab_size=500, dim=768, upstream_dim=768)
    assert cfg.widths() == (768, 702, 635, 501)
    q = random_quantizer(LinearQuantizerConfig(20, 32, 32), seed=1)
    q.save(tmp_path / "q.pt")
    obj = torch.load(tmp_path / "q.pt", weights_only=True)
    assert obj["model_cfg"] == {"vocab_size": 20, "dim": 32, "upstream_dim": 32}
    assert sorted(obj["model_weight"]) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    back = load_quantizer(tmp_path / "q.pt")
    assert isinstance(back, LinearQuantizer) and back.n_units == 21 and back.blank == 20
    x = torch.randn(2, 50, 32, generator=torch.Generator().manual_seed(0))
    codes = back(x)
    raw = torch.log_softmax(q.logits(x), -1).argmax(-1)
    assert (raw == 20).any() and not (codes == 20).any()
    keep = raw != 20
    assert torch.equal(codes[keep], raw[keep])


def test_linear_quantizer_bad_files(tmp_path):
    torch.save({"model_cfg": {"vocab_size": 4, "dim": 8}, "model_weight": {}}, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="lacks \\['upstream_dim'\\]"):
        load_quantizer(tmp_path / "a.pt")
    q = random_quantizer(LinearQuantizerConfig(4, 8, 8))
    bad = q.to_official()
    bad["model_weight"]["6.weight"] = torch.zeros(1)
    torch.save(bad, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="unknown quantizer keys \\['6.weight'\\]"):
        load_quantizer(tmp_path / "b.pt")
    with pytest.raises(FileNotFoundError):
        load_quantizer(tmp_path / "missing.pt")


def test_kmeans_nearest_centroid_and_formats(tmp_path):
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(7, 5, generator=g)
    km = KmeansQuantizer(centers)
    x = torch.randn(3, 40, 5, generator=g)
    brute = torch.cdist(x, centers[None].expand(3, -1, -1)).argmin(-1)
    assert torch.equal(km(x), brute)
    assert torch.equal(km(centers[None])[0], torch.arange(7))
    torch.save({"cluster_centers": centers, "n_clusters": 7}, tmp_path / "km.pt")
    assert torch.equal(load_quantizer(tmp_path / "km.pt")(x), brute)
    km.save(tmp_path / "ours", feature="hubert-l6")
    again = load_quantizer(tmp_path / "ours")
    assert isinstance(again, KmeansQuantizer) and torch.equal(again(x), brute)
    with pytest.raises(ValueError, match="features have dim 4, centroids 5"):
        km(torch.zeros(1, 2, 4))
