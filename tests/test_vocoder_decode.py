"""Decode rules (official and fixed), speaker/style selection and error messages."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent / "assets" / "vocoder"))
import vocoder_fixtures as fx  # noqa: E402

from spiritlm.units import SpeechUnits  # noqa: E402
from spiritlm.vocoder import CodeHiFiGAN, UnitVocoder, VocoderConfig, load_vocoder  # noqa: E402
from spiritlm.vocoder.decode import plan_decode, upsample_codes  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return load_vocoder(fx.make_official_folder(tmp_path_factory.mktemp("b") / "base", "base"))


@pytest.fixture(scope="module")
def expr(tmp_path_factory):
    return load_vocoder(fx.make_official_folder(tmp_path_factory.mktemp("e") / "expr", "expressive"))


def test_upsample_codes_official_rule():
    np.testing.assert_array_equal(upsample_codes(np.array([4, 11]), 25, 30), [4] * 25 + [11] * 5)
    np.testing.assert_array_equal(upsample_codes(np.array([1, 2]), 2, 5), [1, 1, 2, 2, 2])  # pad with last
    with pytest.raises(ValueError, match=r"5 pitch codes cannot be upsampled x2 to 5 unit frames"):
        upsample_codes(np.arange(5), 2, 5, "pitch codes")


def test_plan_for_each_input_form(expr):
    cfg = expr.config
    p = plan_decode(fx.EXPR_STRING, cfg)
    assert p.predict_durations and p.units.tolist() == [3, 17, 5, 29, 0, 12, 31, 8]
    assert p.pitch.tolist() == [9, 9, 2, 2, 15, 15, 0, 0] and p.style.tolist() == [4] * 6 + [11] * 2
    raw = plan_decode(fx.EXPR_RAW, cfg)  # official rule: pitch length != hubert length -> no durations
    assert not raw.predict_durations and len(raw.pitch) == len(raw.style) == 30
    assert raw.style.tolist() == [4] * 25 + [11] * 5


def test_compat_reproduces_official_double_upsampling_failure(expr):
    # Appendix C 3: official decode(string, dur_pred=False) upsamples aligned pitch again and fails
    with pytest.raises(ValueError, match="cannot be upsampled"):
        expr.decode(fx.EXPR_STRING, dur_pred=False, compat=True)
    wav = expr.decode(fx.EXPR_STRING, dur_pred=False)  # fixed: aligned units, one frame each
    assert len(wav) == 8 * 640


def test_repeated_units_dedup_only_outside_compat(base):
    s = "[Hu3][Hu3][Hu5]"
    fixed, compat = plan_decode(s, base.config), plan_decode(s, base.config, compat=True)
    assert fixed.units.tolist() == [3, 5] and compat.units.tolist() == [3, 3, 5]
    np.testing.assert_array_equal(base.decode(s), base.decode("[Hu3][Hu5]"))


def test_base_vocoder_ignores_expressive_streams(base):
    hu_only = "".join(f"[Hu{v}]" for v in [3, 17, 5, 29, 0, 12, 31, 8])
    np.testing.assert_array_equal(base.decode(fx.EXPR_STRING), base.decode(hu_only))


def test_speaker_and_style_selection(base, expr):
    s = fx.BASE_STRING
    np.testing.assert_array_equal(base.decode(s), base.decode(s, speaker_id=2, style_id=8))  # defaults
    np.testing.assert_array_equal(base.decode(s, speaker_id="ex03", style_id="conv-default"), base.decode(s))
    assert not np.allclose(base.decode(s, speaker_id=0), base.decode(s))  # id 0 is honoured, not "falsy"
    assert not np.allclose(base.decode(s, style_id=0), base.decode(s))
    np.testing.assert_array_equal(base.decode(s, speaker_id="1"), base.decode(s, speaker_id=1))
    with pytest.raises(ValueError, match=r"unknown speaker 'ex09'; valid: 0=ex01, 1=ex02, 2=ex03, 3=ex04"):
        base.decode(s, speaker_id="ex09")
    with pytest.raises(ValueError, match=r"unknown style id 10; valid: 0..9 \(0=read-default"):
        base.decode(s, style_id=10)
    with pytest.raises(ValueError, match="unknown speaker id -1"):
        base.decode(s, speaker_id=-1)
    with pytest.raises(ValueError, match="no style conditioning"):
        expr.decode(fx.EXPR_STRING, style_id=3)


def test_missing_style_default_and_official_random():
    cfg = replace(VocoderConfig.preset("tiny_expressive"), num_style_tokens=100, num_f0_tokens=64)
    torch.manual_seed(0)
    voc = UnitVocoder(CodeHiFiGAN(cfg))
    no_style = "[Pi3][Hu1][Hu2][Pi7][Hu3]"
    np.testing.assert_array_equal(voc.decode(no_style), voc.decode("[St71]" + no_style))
    picks = {tuple(plan_decode(no_style, cfg, compat=True).style.tolist()) for _ in range(40)}
    assert picks <= {(71,) * 3, (68,) * 3, (98,) * 3} and len(picks) > 1


def test_clear_errors(base, expr):
    with pytest.raises(ValueError, match="needs pitch units"):
        expr.synthesize(SpeechUnits([1, 2, 3], aligned=True))
    with pytest.raises(ValueError, match=r"unit values must lie in 0..31, got 1..40"):
        base.decode("[Hu1][Hu40]")
    with pytest.raises(ValueError, match="no HuBERT units"):
        base.decode("[Pi3]")
    with pytest.raises(ValueError, match="malformed speech token"):
        base.decode("[Hu1][Hux]")
    with pytest.raises(ValueError, match="decode\\(\\) takes a token string"):
        base.decode(42)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_vocoder("/nonexistent/vocoder")


def test_our_format_round_trip(tmp_path, base):
    folder = base.save(tmp_path / "ours")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "speakers.txt",
                                                        "styles.txt"]
    again = load_vocoder(folder)
    np.testing.assert_array_equal(again.decode(fx.BASE_STRING), base.decode(fx.BASE_STRING))
    official = load_vocoder(base.save(tmp_path / "official", format="official"))
    np.testing.assert_allclose(official.decode(fx.BASE_STRING), base.decode(fx.BASE_STRING), atol=1e-6)


def test_our_folder_defaults(tmp_path):
    """Our vocoders speak in the speaker/style their config.json names; without one, style 0 where the official
    default (8) does not exist; official folders keep speaker 2 / style 8."""
    import json

    from spiritlm.training.recipe import set_vocoder_defaults
    from spiritlm.vocoder.unit_vocoder import folder_defaults

    cfg = replace(VocoderConfig.preset("tiny"), num_styles=8)
    torch.manual_seed(0)
    folder = UnitVocoder(CodeHiFiGAN(cfg), speakers=["a", "flite-kal16", "flite-slt", "b"]).save(tmp_path / "v")
    voc = load_vocoder(folder)
    assert (voc.default_speaker, voc.default_style) == (2, 0)  # 8 would be out of range for 8 styles
    np.testing.assert_array_equal(voc.decode(fx.BASE_STRING), voc.decode(fx.BASE_STRING, speaker_id=2, style_id=0))
    set_vocoder_defaults(folder, ["a", "flite-kal16", "flite-slt", "b"])
    assert json.loads((folder / "config.json").read_text())["defaults"] == {"speaker": 2, "style": 0}
    set_vocoder_defaults(folder, ["a", "flite-kal16", "b"])
    voc = load_vocoder(folder)
    assert (voc.default_speaker, voc.default_style) == (1, 0)
    assert (load_vocoder(folder, default_speaker=3).default_speaker) == 3  # an explicit choice wins
    official = VocoderConfig.preset("tiny")  # 4 speakers, 10 styles
    assert folder_defaults(folder, official, official=True) == (2, 8)
