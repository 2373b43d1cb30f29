"""`spiritlm demo`: every job runs and writes its audio (shipped mini models when present, else tiny random ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spiritlm.checkpoints import bundled_model_names
from spiritlm.cli import main
from spiritlm.cli.lm_commands import mini_examples

SHIPPED = all(f"spirit-lm-mini-{v}" in bundled_model_names() for v in ("base", "expressive")) and mini_examples()


def test_demo_runs_every_job(tmp_path, capsys, one_thread):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for job in ("T->T", "T->S", "S->T", "S->S"):
        assert out.count(f"== {job}  prompt:") == 2  # Base and Expressive
    wavs = sorted(p.name for p in tmp_path.glob("*.wav"))
    for variant in ("base", "expressive"):
        assert f"{variant}_T2S_0.wav" in wavs and f"{variant}_S2S_0.wav" in wavs
    if SHIPPED:
        assert "NOTE: no trained model" not in out
        assert "== style carry: a " in out and "style of the continuation (style classifier):" in out
        assert "expressive_S2S_style_0.wav" in wavs
        assert out.count("Whisper base hears: ") >= 4  # each speech output of both models (T->S, S->S)
        assert out.count(f"true text of the speech: {mini_examples()['speech']['text']!r}") == 2  # S->T, both
        assert "median pitch of the continuation: " in out and ", median pitch " in out
    else:
        assert "NOTE: no trained model is shipped yet" in out


@pytest.mark.skipif(not SHIPPED, reason="the mini bundle is not in the package")
def test_shipped_examples_exist():
    ex = mini_examples()
    assert set(ex) == {"speech", "style"}
    for item in ex.values():
        assert item["text"] and item["style"] and item["speaker"]
        assert Path(item["file"]).is_file()
