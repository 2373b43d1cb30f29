"""`spiritlm train style`: a tiny wav2vec2 style classifier learns two synthetic styles (low / high
pitch) from {audio, style} lines, resumes, and loads by folder through `speech.style.load`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from spiritlm.audio import load_audio
from spiritlm.cli import main
from spiritlm.speech.style import load as load_style
from spiritlm.training.style import StyleTrainConfig, evaluate_style, style_model_config, train_style

_spec = importlib.util.spec_from_file_location("pitch_training", Path(__file__).with_name("test_pitch_training.py"))
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return _mod.synthetic_corpus(tmp_path_factory.mktemp("corpus"))


def test_train_resume_and_load(tmp_path, manifest):
    out = str(tmp_path / "run")
    train_style(StyleTrainConfig.preset("tiny", manifest=str(manifest), out_dir=out, steps=15))
    result = train_style(StyleTrainConfig.preset("tiny", manifest=str(manifest), out_dir=out, steps=40))
    assert result.steps == 40 and [h["step"] for h in result.history] == list(range(5, 41, 5))
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0], losses
    tok = load_style(tmp_path / "run" / "style")
    assert tok.labels == ["high", "low"]
    units = [tok.encode(load_audio(manifest.parent / f"u{i}.wav")).tolist() for i in range(4)]
    assert units == [[1, 1], [0, 0], [1, 1], [0, 0]]
    rows = [{"audio": str(manifest.parent / f"u{i}.wav"), "style": s} for i, s in enumerate(["low", "high", "x"])]
    m = evaluate_style(tok, rows)
    assert m.token_accuracy == 4 / 6 and m.utterance_accuracy == 2 / 3
    assert m.per_style == {"high": 1.0, "low": 1.0, "x": 0.0}


def test_bad_configs(tmp_path, manifest):
    with pytest.raises(ValueError, match="valid: small, tiny"):
        style_model_config("huge", ["a", "b"])
    one = tmp_path / "one.jsonl"
    one.write_text('{"audio": "%s", "style": "x"}\n' % (manifest.parent / "u0.wav"))
    with pytest.raises(ValueError, match="at least two styles"):
        train_style(StyleTrainConfig.preset("tiny", manifest=str(one), out_dir=str(tmp_path / "r")))
    nolabel = tmp_path / "nolabel.jsonl"
    nolabel.write_text('{"audio": "u0.wav"}\n')
    with pytest.raises(ValueError, match="no 'style' label"):
        train_style(StyleTrainConfig.preset("tiny", manifest=str(nolabel), out_dir=str(tmp_path / "r")))


def test_cli(tmp_path, manifest, capsys):
    rc = main(["train", "style", str(manifest), "--out", str(tmp_path / "cli"), "--preset", "tiny", "--steps", "3",
               "--valid", str(manifest)])
    out = capsys.readouterr().out
    assert rc == 0 and "trained style classifier to step 3" in out and "held-out (4 files): token accuracy" in out
    assert (tmp_path / "cli" / "style" / "model.safetensors").is_file()
