"""Official compatibility of the pitch tokenizer: tiny random official-format checkpoints give the codes,
F0 and reconstructions that the official code gave on the same files (tests/assets/pitch/golden.json,
made by tests/assets/pitch/make_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from area_assets import load_helpers
from spiritlm.speech.pitch import load as load_pitch

helpers = load_helpers("pitch")

GOLDEN = json.loads(helpers.GOLDEN.read_text())


@pytest.fixture(scope="module")
def official_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("official_vqvae")
    return {v: helpers.write_official(root / v, v) for v in helpers.VARIANTS}


@pytest.fixture(scope="module")
def contours(reference_wav, official_dirs):
    tok = load_pitch(official_dirs["norm"])
    yaapt = load_pitch(official_dirs["norm"], f0_method="pyaapt")
    return {"fcpe": tok.extract_f0(reference_wav), "pyaapt": yaapt.extract_f0(reference_wav)}


def test_reference_file_gives_official_count(reference_wav, official_dirs):
    tok = load_pitch(official_dirs["norm"])
    codes = tok.encode(reference_wav)
    assert len(reference_wav) == 146160
    assert codes.dtype == np.int64 and codes.shape == (114,) == (tok.num_codes(len(reference_wav)),)
    assert codes.tolist() == GOLDEN["norm"]["fcpe"]["codes"]


@pytest.mark.parametrize("method", ["fcpe", "pyaapt"])
def test_f0_features_equal_official(contours, method):
    ref = GOLDEN["f0"][method]
    c = contours[method]
    assert len(c) == len(ref["f0"]) == (1828 if method == "fcpe" else 1827)
    # float32 sums in FCPE are ordered by the thread count: 1 thread vs 2 differ by up to ~1e-6 relative
    # (0.0002 Hz at 219 Hz, 0.002 cents)
    np.testing.assert_allclose(c.f0, ref["f0"], atol=1e-4, rtol=2e-6)
    np.testing.assert_array_equal(c.vuv, ref["vuv"])


@pytest.mark.parametrize("variant", list(helpers.VARIANTS))
@pytest.mark.parametrize("method", ["fcpe", "pyaapt"])
def test_codes_equal_official(contours, official_dirs, variant, method):
    tok = load_pitch(official_dirs[variant], f0_method=method)
    x = tok.features(contours[method])
    assert tok.model.encode(x)[0].tolist() == GOLDEN[variant][method]["codes"]
    if variant == "speaker":
        x = tok.features(contours[method], speaker="spk1")
        assert tok.model.encode(x)[0].tolist() == GOLDEN[variant][method]["codes_spk1"]


def test_reconstruction_equals_official(contours, official_dirs):
    tok = load_pitch(official_dirs["norm"])
    with torch.no_grad():
        out = tok.model(tok.features(contours["fcpe"]))
    np.testing.assert_allclose(out.reconstruction[0, :, :64].numpy(), GOLDEN["norm"]["fcpe"]["pred_first64"],
                               atol=1e-4, rtol=1e-5)
    assert out.codes[0][0].tolist() == GOLDEN["norm"]["fcpe"]["codes"]
    decoded = tok.model.decode(out.codes[0])
    assert decoded.shape == (1, 2, 114 * 16)
    np.testing.assert_allclose(decoded.numpy(), out.reconstruction.numpy(), atol=1e-4)


def test_tone_and_short_chunk_equal_official(reference_wav, official_dirs):
    tok = load_pitch(official_dirs["norm"])
    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(24000) / 16000)).astype(np.float32)
    assert tok.encode(tone).tolist() == GOLDEN["norm"]["fcpe"]["tone_codes"]
    assert tok.encode(reference_wav[20000:21280]).tolist() == GOLDEN["norm"]["fcpe"]["short_1280_codes"]
    contour = tok.extract_f0(tone)
    assert len(contour) == 24000 // 80 + 1
    assert abs(float(np.median(contour.f0)) - 220.0) < 1.0
    assert contour.voiced_fraction == 1.0


def test_ours_roundtrip_and_official_export(tmp_path, official_dirs, contours):
    tok = load_pitch(official_dirs["speaker"])
    assert tok.config.speaker_stats == {"spk1": 120.0, "spk2": 210.0} and tok.config.normalize
    ours = load_pitch(tok.save(tmp_path / "ours"))
    assert load_pitch(tmp_path / "ours", f0_method="pyaapt").f0_extractor.method == "pyaapt"
    assert (tmp_path / "ours" / "model.safetensors").is_file()
    assert ours.config == tok.config
    again = load_pitch(ours.save(tmp_path / "official", format="official"))
    x = tok.features(contours["fcpe"], speaker="spk1")
    for other in (ours, again):
        assert other.model.encode(x).tolist() == tok.model.encode(x).tolist()
        for key, value in tok.model.state_dict().items():
            assert torch.equal(other.model.state_dict()[key], value), key
