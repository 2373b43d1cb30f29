"""`spiritlm decode` and `spiritlm train vocoder` end to end on tiny models."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "assets" / "vocoder"))
sys.path.insert(0, str(Path(__file__).parent))
import vocoder_fixtures as fx  # noqa: E402

from spiritlm.audio import load_audio  # noqa: E402
from spiritlm.cli import main  # noqa: E402
from spiritlm.vocoder import load_vocoder  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def test_decode_tokens_units_and_stream(tmp_path, capsys):
    folder = fx.make_official_folder(tmp_path / "expr", "expressive")
    voc = load_vocoder(folder)
    out = tmp_path / "a.wav"
    assert main(["decode", "--vocoder", str(folder), "--tokens", fx.EXPR_STRING, "-o", str(out),
                 "--speaker", "ex02"]) == 0
    assert "real-time factor" in capsys.readouterr().out
    expected = voc.decode(fx.EXPR_STRING, speaker_id=1)
    np.testing.assert_allclose(load_audio(out), expected, atol=1.5 / 32768)  # 16-bit PCM: at most one step

    units = tmp_path / "u.json"
    units.write_text(json.dumps({**fx.EXPR_RAW, "audio": "x.wav"}))
    assert main(["decode", "--vocoder", str(folder), "--units", str(units), "-o", str(out), "--stream", "4"]) == 0
    np.testing.assert_allclose(load_audio(out), voc.decode(fx.EXPR_RAW), atol=1.5 / 32768)

    assert main(["decode", "--vocoder", str(folder), "--tokens", fx.EXPR_STRING, "-o", str(out),
                 "--speaker", "nobody"]) == 2
    assert "unknown speaker 'nobody'" in capsys.readouterr().err


def test_train_vocoder_command(tmp_path, capsys):
    from test_vocoder_training import make_corpus

    manifest = make_corpus(tmp_path / "corpus", n_utts=1, seconds=1.0, k=8)
    run = tmp_path / "run"
    assert main(["train", "vocoder", str(manifest), "--out", str(run), "--preset", "tiny", "--steps", "2"]) == 0
    assert "trained vocoder to step 2" in capsys.readouterr().out
    voc = load_vocoder(run / "vocoder", default_speaker=0)
    assert voc.config.upsample_rates == (10, 8, 8)
