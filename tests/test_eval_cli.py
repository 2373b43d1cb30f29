"""`spiritlm eval ...` end to end on tiny models and hand-made files; the Markdown report."""

from __future__ import annotations

import json

import pytest

from spiritlm.cli import main
from spiritlm.eval.report import load_results, markdown_table

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def manifest(tmp_path):
    from test_eval_pipeline import write_manifest

    return str(write_manifest(tmp_path))


def test_perplexity_command_writes_result_and_command(tiny_root, manifest, tmp_path, capsys):
    model = str(tiny_root / "spiritlm_model" / "spirit-lm-base-7b")
    out = tmp_path / "ppl.json"
    assert main(["eval", "perplexity", "--model", model, "--manifest", manifest, "--preset", "tiny",
                 "--split", "all", "--limit", "2", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["command"] == (f"spiritlm eval perplexity --preset tiny --model {model} --manifest {manifest} "
                               "--split all --limit 2")
    (res,) = data["results"]
    assert res["benchmark"] == "perplexity" and res["n_items"] == 2 and res["config"]["batch_size"] == 2
    assert "perplexity (n=2" in capsys.readouterr().out


def test_all_with_only(tiny_root, manifest, tmp_path):
    model = str(tiny_root / "spiritlm_model" / "spirit-lm-base-7b")
    out = tmp_path / "all.json"
    assert main(["eval", "all", "--model", model, "--manifest", manifest, "--preset", "tiny", "--only",
                 "perplexity,likelihood", "--out", str(out)]) == 0
    results, commands = load_results([out])
    assert [r["benchmark"] for r in results] == ["perplexity"] and commands[0].startswith("spiritlm eval all")
    (skip,) = json.loads(out.read_text())["skipped"]  # the test sentences are too short for cloze items
    assert skip["benchmark"] == "likelihood" and "no cloze items" in skip["reason"]
    assert main(["eval", "all", "--model", model, "--manifest", manifest, "--only", "speed"]) == 2


def test_stsp_command_prints_official_line(tmp_path, capsys):
    ref, pred = tmp_path / "ref.jsonl", tmp_path / "pred.jsonl"
    ref.write_text('{"id": 1, "sentiment": "positive"}\n{"id": 2, "sentiment": "neutral"}\n')
    pred.write_text('{"id": 1, "pred": "positive"}\n{"id": 2, "pred": "negative"}\n')
    assert main(["eval", "stsp", "--ref", str(ref), "--pred", str(pred)]) == 0
    assert f"Accuracy: 50.00% for predictions from {pred}" in capsys.readouterr().out
    ref_out = tmp_path / "r2.jsonl"
    from test_eval_pipeline import write_manifest

    m = write_manifest(tmp_path / "m")
    assert main(["eval", "stsp-ref", "--manifest", str(m), "--out", str(ref_out)]) == 0
    assert len(ref_out.read_text().splitlines()) == 2


def test_bad_preset_and_missing_inputs(capsys):
    assert main(["eval", "tts", "--preset", "huge", "--model", "m", "--manifest", "f"]) == 2
    assert "valid: default, paper, tiny" in capsys.readouterr().err
    assert main(["eval", "resynthesis"]) == 2
    assert "needs manifest, model" in capsys.readouterr().err


def test_report_table_and_targets(tmp_path, capsys):
    results = [{"benchmark": "resynthesis", "metrics": {"cer": 0.0712, "wer": 0.15}, "n_items": 100},
               {"benchmark": "asr", "metrics": {"wer": 0.4}, "n_items": 50},
               {"benchmark": "style", "metrics": {"accuracy": 0.5, "x_chance": 4.0}, "n_items": 20}]
    table = markdown_table(results, ["spiritlm eval all --model m"])
    assert table.splitlines() == [
        "Command: `spiritlm eval all --model m`", "",
        "| benchmark | metric | value | n | target | met |", "|---|---|---|---|---|---|",
        "| resynthesis | cer | 0.0712 | 100 | <= 0.1 | yes |",
        "| resynthesis | wer | 0.15 | 100 |  |  |",
        "| asr | wer | 0.4 | 50 | <= 0.3 | no |",
        "| style | accuracy | 0.5 | 20 |  |  |",
        "| style | x_chance | 4 | 20 | >= 3 | yes |"]
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"command": "spiritlm eval all --model m", "results": results}))
    assert main(["eval", "report", str(f)]) == 0
    assert capsys.readouterr().out == table
    f.write_text(json.dumps([{"metrics": {}}]))
    with pytest.raises(ValueError, match="not a benchmark result"):
        load_results([f])


def test_report_compare_columns(tmp_path, capsys):
    a, b = tmp_path / "interleaved.json", tmp_path / "no_interleaving.json"
    a.write_text(json.dumps({"command": "spiritlm eval all --model A", "results": [
        {"benchmark": "tts", "metrics": {"cer": 0.25}, "n_items": 10}]}))
    b.write_text(json.dumps([{"benchmark": "tts", "metrics": {"cer": 0.9}, "n_items": 10},
                             {"benchmark": "asr", "metrics": {"wer": 1.2}, "n_items": 10}]))
    assert main(["eval", "report", str(a), str(b), "--compare"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "interleaved: `spiritlm eval all --model A`", "",
        "| benchmark | metric | interleaved | no_interleaving | target |", "|---|---|---|---|---|",
        "| tts | cer | 0.25 | 0.9 | <= 0.3 |", "| asr | wer |  | 1.2 | <= 0.3 |"]
