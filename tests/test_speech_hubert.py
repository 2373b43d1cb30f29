"""HuBERT features: conv-stack arithmetic, key conversion, checkpoint formats, batching."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from spiritlm.speech.hubert import HubertFeatures
from spiritlm.speech.hubert import load as load_hubert
from spiritlm.speech.hubert_convert import (
    HubertSpec,
    hf_to_official,
    hubert_preset,
    official_to_hf,
    parse_conv_layers,
    read_official_hubert,
    write_official_hubert,
)
from spiritlm.speech.random_checkpoints import random_hubert, write_hubert_checkpoints

REF_AUDIO = str(Path(__file__).resolve().parents[2] / "shared" / "reference" / "audio" / "7143-88743-0029.flac")


@pytest.fixture(scope="module")
def tiny() -> HubertFeatures:
    return random_hubert(hubert_preset("tiny"), seed=3)


def test_parse_conv_layers_official_expression():
    layers = parse_conv_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 3")
    assert layers == ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 3
    with pytest.raises(ValueError, match="unsupported"):
        parse_conv_layers("__import__('os').system('true')")
    with pytest.raises(ValueError, match="dim, kernel, stride"):
        parse_conv_layers("[(512, 10)]")


def test_frame_counts_follow_the_conv_formula():
    spec = hubert_preset("mhubert-base-25hz")
    assert spec.hop == 640
    assert spec.num_frames(146_160) == 228  # the official count for the example file
    assert spec.num_frames(1_600_000) == 2499 and spec.num_frames(2000) == 3
    assert spec.num_frames(1280) == 1 and spec.num_frames(720) == 1 and spec.num_frames(719) == 0
    assert spec.num_frames(1919) == 2 and spec.num_frames(0) == 0
    base50 = hubert_preset("hubert-base-50hz")
    assert base50.num_frames(16000) == 49 and base50.num_frames(400) == 1 and base50.num_frames(399) == 0
    with pytest.raises(ValueError, match="valid: hubert-base-50hz, mhubert-base-25hz, mini, tiny"):
        hubert_preset("large")


def test_reference_audio_gives_228_frames(tiny):
    wav, sr = sf.read(REF_AUDIO, dtype="float32")
    assert (sr, len(wav)) == (16000, 146_160)
    feats, frames = tiny(torch.from_numpy(wav))
    assert feats.shape == (1, 228, 32) and frames.tolist() == [228]
    for n in (720, 1280, 1919, 16_639, 16_640):
        assert tiny(torch.zeros(n))[0].shape[1] == tiny.num_frames(n)


def test_key_table_round_trip_and_unknown_keys(tiny):
    spec = tiny.spec
    hf = tiny.model.state_dict()
    official = hf_to_official(hf, spec)
    assert "encoder.pos_conv.0.weight_g" in official and "encoder.layers.11.fc1.weight" in official
    assert "feature_extractor.conv_layers.0.2.weight" in official  # the GroupNorm of conv 0
    assert "post_extract_proj.weight" not in official  # conv width == model width: fairseq has none
    back = official_to_hf(official, spec)
    assert set(back) == set(hf) and all(torch.equal(back[k], hf[k]) for k in hf)
    assert not any(k.startswith("encoder.layers.5.") for k in official_to_hf(official, spec, n_layers=5))
    with pytest.raises(ValueError, match="unknown HuBERT checkpoint key 'encoder.bogus'"):
        official_to_hf({**official, "encoder.bogus": torch.zeros(1)}, spec)


def test_layer_norm_extractor_keys_round_trip():
    spec = replace(hubert_preset("tiny"), extractor_mode="layer_norm", layers=2)
    model = HubertFeatures(spec, layer=None)
    official = hf_to_official(model.model.state_dict(), spec)
    assert "feature_extractor.conv_layers.0.2.1.weight" in official
    assert set(official_to_hf(official, spec)) == set(model.model.state_dict())


def test_official_and_fairseq_files_load_the_same(tmp_path):
    conv = write_hubert_checkpoints(tmp_path / "a", "tiny", seed=5)
    fair = write_hubert_checkpoints(tmp_path / "b", "tiny", seed=5, fairseq=True)
    assert set(torch.load(conv.hubert, weights_only=True)) == {"model_cfg", "task_cfg", "model_weight",
                                                              "dictionaries_symbols"}
    ckpt = read_official_hubert(fair.hubert)
    assert ckpt.spec == conv.spec and ckpt.dictionaries == [[str(i) for i in range(20)]]
    wav = torch.randn(16_000, generator=torch.Generator().manual_seed(0)) * 0.1
    a, _ = load_hubert(conv.hubert)(wav)
    b, _ = load_hubert(fair.hubert)(wav)
    assert torch.equal(a, b)


def test_old_fairseq_args_namespace_needs_allow_pickle(tmp_path):
    import argparse

    spec = replace(hubert_preset("tiny"), layers=2)
    model = random_hubert(spec, seed=7)
    model_cfg, task_cfg = spec.to_official()
    torch.save({"args": argparse.Namespace(**{**model_cfg, **task_cfg}),
                "model": hf_to_official(model.model.state_dict(), spec)}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="allow_pickle=True"):
        load_hubert(tmp_path / "old.pt")
    wav = torch.randn(4000, generator=torch.Generator().manual_seed(7)) * 0.1
    with torch.no_grad():
        assert torch.allclose(load_hubert(tmp_path / "old.pt", None, allow_pickle=True)(wav)[0], model(wav)[0])


def test_missing_and_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no speech part"):
        load_hubert(tmp_path / "none.pt")
    torch.save({"weights": {}}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a HuBERT checkpoint"):
        load_hubert(tmp_path / "x.pt")
    with pytest.raises(ValueError, match="only 'transformer'"):
        HubertSpec.from_official({"layer_type": "conformer"}, {})


def test_layer_choice_and_fallback(tiny, tmp_path):
    spec = hubert_preset("tiny")
    path = write_official_hubert(tmp_path / "h.pt", spec, hf_to_official(tiny.model.state_dict(), spec))
    wav = torch.randn(8000, generator=torch.Generator().manual_seed(1)) * 0.1
    full = load_hubert(path, layer=None)
    l3 = load_hubert(path, layer=3)
    assert len(l3.model.encoder.layers) == 3
    assert not torch.allclose(l3(wav)[0], full(wav)[0])
    # past the last layer: the last layer's output, as the official loop that never breaks
    assert torch.equal(load_hubert(path, layer=20)(wav)[0], full(wav)[0])
    with pytest.raises(ValueError, match="1-based"):
        HubertFeatures(spec, layer=0)


def test_pre_ln_model_has_no_final_layer_norm_at_a_layer():
    spec = replace(hubert_preset("tiny"), layer_norm_first=True, layers=3)
    full = random_hubert(spec, seed=2)
    at3 = HubertFeatures(spec, layer=3)
    at3.load_hf_state(full.model.state_dict())
    wav = torch.randn(8000, generator=torch.Generator().manual_seed(2)) * 0.1
    with torch.no_grad():
        raw, final = at3(wav)[0], full(wav)[0]
    assert torch.allclose(full.model.encoder.layer_norm(raw), final, atol=1e-5)
    assert not torch.allclose(raw, final, atol=1e-2)


def test_batch_equals_singles_with_padding(tiny):
    g = torch.Generator().manual_seed(4)
    wavs = [torch.randn(n, generator=g) * 0.2 for n in (16_000, 9_001, 12_345, 1_280)]
    lengths = torch.tensor([len(w) for w in wavs])
    batch = torch.zeros(len(wavs), 16_000)
    for i, w in enumerate(wavs):
        batch[i, :len(w)] = w
    feats, frames = tiny(batch, lengths)
    for i, w in enumerate(wavs):
        single, n = tiny(w)
        assert frames[i] == n[0] == tiny.num_frames(len(w))
        assert torch.allclose(feats[i, :frames[i]], single[0], atol=1e-5)


def test_normalize_uses_valid_samples_only():
    spec = replace(hubert_preset("tiny"), normalize=True, layers=2)
    model = random_hubert(spec, seed=6)
    wav = torch.randn(12_000, generator=torch.Generator().manual_seed(6)) * 0.3 + 0.1
    padded = torch.cat([wav, torch.zeros(4000)])[None]
    single = model(wav)[0]
    assert torch.allclose(model(padded, torch.tensor([12_000]))[0][0, :single.shape[1]], single[0], atol=1e-5)
    plain = HubertFeatures(replace(spec, normalize=False), layer=None)
    plain.load_hf_state(model.model.state_dict())
    normed = torch.nn.functional.layer_norm(wav, wav.shape)
    assert torch.allclose(plain(normed)[0], single, atol=1e-5)


def test_save_and_load_pretrained(tiny, tmp_path):
    tiny.save(tmp_path / "mini")
    assert sorted(p.name for p in (tmp_path / "mini").iterdir()) == ["config.json", "model.safetensors"]
    back = load_hubert(tmp_path / "mini", layer=None)
    wav = torch.from_numpy(np.sin(np.arange(6000) / 7).astype(np.float32))
    assert torch.equal(back(wav)[0], tiny(wav)[0])
