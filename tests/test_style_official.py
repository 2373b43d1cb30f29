"""Official compatibility of the style tokenizer: a tiny random official-format `style_encoder_w2v2/`
gives the units and logits the official `Wav2Vec2StyleEncoder` gave on the same files
(tests/assets/style/golden.json, made by tests/assets/style/make_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from area_assets import load_helpers
from spiritlm.speech.style import StyleTokenizer, normalize_wav, pool_chunks
from spiritlm.speech.style import load as load_style

helpers = load_helpers("style")

GOLDEN = json.loads(helpers.GOLDEN.read_text())


@pytest.fixture(scope="module")
def official_dir(tmp_path_factory) -> Path:
    return helpers.write_official(tmp_path_factory.mktemp("style") / "style_encoder_w2v2")


@pytest.fixture(scope="module")
def tok(official_dir) -> StyleTokenizer:
    return load_style(official_dir)


def test_reference_units_and_logits_equal_official(tok, reference_wav):
    out = tok.forward_chunk(reference_wav)
    assert out.units.dtype == np.int64 and out.units.shape == (10,) == (tok.num_units(len(reference_wav)),)
    assert out.units.tolist() == GOLDEN["units"]
    np.testing.assert_allclose(out.logits.numpy(), GOLDEN["logits"], atol=1e-4, rtol=1e-4)
    assert tok.encode(reference_wav).tolist() == GOLDEN["units"]


def test_partial_last_second_and_tone_equal_official(tok, reference_wav):
    assert tok.encode(reference_wav[:20000]).tolist() == GOLDEN["units_1s_tail"]
    tone = (0.3 * np.sin(2 * np.pi * 180 * np.arange(24000) / 16000)).astype(np.float32)
    assert tok.encode(tone).tolist() == GOLDEN["tone_units"]


def test_pooling_and_normalisation():
    h = torch.arange(7, dtype=torch.float32).view(1, 7, 1)
    assert pool_chunks(h, 3)[0, :, 0].tolist() == [1.0, 4.0, 6.0]
    x = normalize_wav(np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32))
    assert x.dtype == np.float32
    np.testing.assert_allclose([x.mean(), x.std()], [0.0, 1.0], atol=1e-5)
    assert normalize_wav(np.zeros(8, np.float32)).tolist() == [0.0] * 8


def test_ours_roundtrip(tok, tmp_path, reference_wav):
    folder = tok.save(tmp_path / "ours")
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert json.loads((folder / "config.json").read_text())["spiritlm_style"] == {"pool_size": 50, "do_normalize": True}
    again = load_style(folder)
    assert again.config == tok.config
    assert again.encode(reference_wav[:48000]).tolist() == tok.encode(reference_wav[:48000]).tolist()


def test_missing_folder_names_the_formats(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin"):
        load_style(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no speech part .*nope.* e.g. style_encoder_w2v2"):
        load_style(tmp_path / "nope")


def test_legacy_weight_norm_keys_and_extra_buffer_load(official_dir, tmp_path, reference_wav):
    """Older transformers saved the positional conv as weight_g / weight_v, and the official class
    adds a `_float_tensor` buffer: both forms load to the same model."""
    import shutil

    folder = tmp_path / "legacy"
    shutil.copytree(official_dir, folder)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    legacy = {k.replace("parametrizations.weight.original0", "weight_g")
               .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
    assert any(k.endswith("weight_g") for k in legacy)
    torch.save({**legacy, "_float_tensor": torch.zeros(1)}, folder / "pytorch_model.bin")
    out = load_style(folder).forward_chunk(reference_wav)
    assert out.units.tolist() == GOLDEN["units"]
    np.testing.assert_allclose(out.logits.numpy(), GOLDEN["logits"], atol=1e-4, rtol=1e-4)
