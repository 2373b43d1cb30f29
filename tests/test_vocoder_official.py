"""Official-format loading and waveform parity with the official implementation (golden.npz)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ASSETS = Path(__file__).parent / "assets" / "vocoder"
sys.path.insert(0, str(ASSETS))
import vocoder_fixtures as fx  # noqa: E402

from spiritlm.generation.interfaces import Vocoder  # noqa: E402
from spiritlm.tokens import string_to_units  # noqa: E402
from spiritlm.units import SpeechUnits  # noqa: E402
from spiritlm.vocoder import VocoderConfig, load_vocoder  # noqa: E402
from spiritlm.vocoder.convert import fold_weight_norm, official_to_ours, ours_to_official  # noqa: E402

GOLDEN = np.load(ASSETS / "golden.npz")
STRIDE = 5

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    return fx.make_official_folder(tmp_path_factory.mktemp("voc") / "hifigan_spiritlm_base", "base")


@pytest.fixture(scope="module")
def expr_dir(tmp_path_factory):
    return fx.make_official_folder(tmp_path_factory.mktemp("voc") / "hifigan_spiritlm_expressive_w2v2", "expressive")


@pytest.fixture(scope="module")
def base(base_dir):
    return load_vocoder(base_dir)


@pytest.fixture(scope="module")
def expr(expr_dir):
    return load_vocoder(expr_dir)


def assert_golden(name: str, wav: np.ndarray) -> None:
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert len(wav) == int(GOLDEN[f"{name}/len"])
    np.testing.assert_allclose(wav[::STRIDE], GOLDEN[f"{name}/wav"], atol=1e-4, rtol=0)
    w = wav.astype(np.float64)
    ours = [w.sum(), np.abs(w).sum(), (w * w).sum(), np.abs(w).max()]
    np.testing.assert_allclose(ours, GOLDEN[f"{name}/stats"], rtol=1e-4, atol=1e-3)


def test_official_config_is_read(base, expr):
    assert base.config.upsample_rates == (10, 8, 8) and base.config.hop_length == 640
    assert (base.config.num_speakers, base.config.num_styles, base.config.num_f0_tokens) == (4, 10, 0)
    assert (expr.config.num_f0_tokens, expr.config.num_style_tokens, expr.config.num_styles) == (16, 12, 0)
    assert (expr.config.pitch_ratio, expr.config.style_ratio) == (2, 25)
    assert base.speakers == fx.SPEAKERS and base.styles == fx.STYLES and expr.styles is None
    assert isinstance(base, Vocoder) and base.sample_rate == 16000


def test_weight_norm_is_folded_after_loading(base):
    state = base.model.state_dict()
    assert not any("weight_g" in k or "parametrizations" in k for k in state)
    sd = fx.official_state_dict(fx.CONFIGS["base"], fx.SEED["base"])
    g, v = sd["conv_pre.weight_g"], sd["conv_pre.weight_v"]
    expected = v * g / v.flatten(1).norm(dim=1).view(-1, 1, 1)
    torch.testing.assert_close(state["stack.conv_pre.weight"], expected, rtol=1e-6, atol=1e-6)


def test_expected_length_for_units_and_durations(base):
    units = string_to_units(fx.BASE_STRING)
    dur = base.model.predict_durations(torch.as_tensor(units.hubert)[None])[0].tolist()
    assert dur == GOLDEN["base_string/dur"].tolist() == [1, 4, 5, 1, 1, 2, 1, 3]
    assert len(base.synthesize(units)) == sum(dur) * 640 == 11520
    raw = SpeechUnits(fx.BASE_RAW["hubert"])  # 14 raw units, one frame each
    assert len(base.synthesize(raw)) == 14 * 640


def test_base_string_matches_official(base):
    assert_golden("base_string", base.decode(fx.BASE_STRING, speaker_id=1))
    assert_golden("base_string", base.decode(fx.BASE_STRING, speaker_id="ex02"))  # name -> id 1


def test_base_raw_units_match_official_without_durations(base):
    assert_golden("base_raw_nodur", base.decode(fx.BASE_RAW, speaker_id=0, dur_pred=False))
    # our default: raw units never get duration prediction
    assert_golden("base_raw_nodur", base.decode(fx.BASE_RAW, speaker_id=0))
    assert_golden("base_raw_nodur", base.synthesize(SpeechUnits(fx.BASE_RAW["hubert"]), speaker_id=0))


def test_base_raw_compat_runs_predictor_on_duplicates(base):
    assert_golden("base_raw_compat", base.decode(fx.BASE_RAW, compat=True))


def test_aligned_units_are_deduplicated_before_durations(base):
    units = SpeechUnits(fx.BASE_RAW["hubert"], aligned=True)
    assert_golden("base_dedup_style3", base.synthesize(units, speaker_id=3, style_id=3))
    assert_golden("base_dedup_style3", base.synthesize(units, speaker_id="ex04", style_id="read-whisper"))


def test_expressive_string_matches_official(expr):
    units = string_to_units(fx.EXPR_STRING)
    dur = expr.model.predict_durations(torch.as_tensor(units.hubert)[None])[0].tolist()
    assert dur == GOLDEN["expr_string/dur"].tolist()
    assert_golden("expr_string", expr.decode(fx.EXPR_STRING, speaker_id=3))
    assert_golden("expr_string", expr.decode(fx.EXPR_STRING, speaker_id=3, compat=True))
    assert_golden("expr_string", expr.synthesize(units, speaker_id=3))


def test_expressive_raw_units_are_upsampled_like_official(expr):
    assert_golden("expr_raw", expr.decode(fx.EXPR_RAW, speaker_id=0))
    assert_golden("expr_raw", expr.decode(fx.EXPR_RAW, speaker_id=0, compat=True))
    assert_golden("expr_raw", expr.synthesize(SpeechUnits.from_official_dict(fx.EXPR_RAW), speaker_id=0))


def test_key_table_round_trip_and_unknown_keys():
    sd = fx.official_state_dict(fx.CONFIGS["expressive"], fx.SEED["expressive"])
    ours = official_to_ours(sd)
    back = ours_to_official(ours)
    assert set(back) == set(sd)
    for k, v in fold_weight_norm(back).items():
        torch.testing.assert_close(v, fold_weight_norm(sd)[k], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unknown vocoder weight 'mystery.weight'"):
        official_to_ours({**sd, "mystery.weight": torch.zeros(1)})
    del sd["conv_pre.weight_g"]
    with pytest.raises(ValueError, match="incomplete"):
        official_to_ours(sd)


def test_new_style_parametrization_keys_load(tmp_path, base):
    sd = fx.official_state_dict(fx.CONFIGS["base"], fx.SEED["base"])
    renamed = {k.replace(".weight_g", ".parametrizations.weight.original0")
               .replace(".weight_v", ".parametrizations.weight.original1"): v for k, v in sd.items()}
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(fx.CONFIGS["base"]))
    torch.save({"generator": renamed}, folder / "generator.pt")
    voc = load_vocoder(folder)
    np.testing.assert_array_equal(voc.decode(fx.BASE_STRING, speaker_id=1), base.decode(fx.BASE_STRING, speaker_id=1))


def test_config_errors():
    bad = dict(fx.CONFIGS["base"], model_in_dim=80)
    with pytest.raises(ValueError, match="model_in_dim=80 but the conditioning adds up to 24"):
        VocoderConfig.from_official(bad)
    with pytest.raises(ValueError, match="unknown vocoder preset 'huge'; valid: base, expressive, mini"):
        VocoderConfig.preset("huge")
    with pytest.raises(ValueError, match="must equal code_hop_size"):
        VocoderConfig(upsample_rates=(4, 4), upsample_kernel_sizes=(8, 8))
