"""Official STSP format and scorer on hand-made files (accuracy computed by hand)."""

from __future__ import annotations

import json

import pytest

from spiritlm.eval import stsp


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


REFS = [{"emotion": "angry", "sentiment": "negative", "wav_path": "a.wav", "split": "test", "speaker": "s", "id": 1},
        {"emotion": "neutral", "sentiment": "neutral", "wav_path": "b.wav", "split": "test", "speaker": "s",
         "id": -5682350483296949563},
        {"emotion": "amused", "sentiment": "positive", "wav_path": "c.wav", "split": "test", "speaker": "s", "id": 3},
        {"emotion": "sad", "sentiment": "negative", "wav_path": "d.wav", "split": "test", "speaker": "s", "id": 4},
        {"emotion": "happy", "sentiment": "positive", "wav_path": "e.wav", "split": "test", "speaker": "s", "id": 5}]
# mostly emotion labels (as in the official demo files): only ids -568... ("neutral") and 4 ("negative") are sentiments
PREDS = [{"pred": "angry", "id": 1}, {"pred": "neutral", "id": -5682350483296949563}, {"pred": "amused", "id": 3},
         {"pred": "negative", "id": 4}, {"pred": "happy", "id": 5}]


def test_score_by_label(tmp_path):
    ref, pred = _write(tmp_path / "ref.jsonl", REFS), _write(tmp_path / "pred.jsonl", PREDS)
    s = stsp.score(ref, pred)  # sentiment: "neutral" (id 2) and "negative" (id 4) match
    assert (s.correct, s.scored, s.accuracy) == (2, 5, 0.4)
    assert s.line("pred.jsonl") == "Accuracy: 40.00% for predictions from pred.jsonl"
    e = stsp.score(ref, pred, "emotion")  # angry, neutral, amused, happy match; "negative" != sad
    assert (e.correct, e.accuracy) == (4, 0.8)
    res = stsp.evaluate(stsp.StspConfig(ref=str(ref), pred=str(pred)))
    assert res.metrics == {"accuracy": 0.4, "scored": 5.0, "unmatched": 0.0}


def test_emotion_mapped_when_sentiment_missing_and_unmatched_ids(tmp_path):
    refs = [{k: v for k, v in r.items() if k != "sentiment"} for r in REFS]
    preds = [{"pred": "negative", "id": 1}, {"pred": "neutral", "id": -5682350483296949563},
             {"pred": "positive", "id": 3}, {"pred": "positive", "id": 4}, {"pred": "positive", "id": 99}]
    s = stsp.score(_write(tmp_path / "r.jsonl", refs), _write(tmp_path / "p.jsonl", preds))
    assert (s.correct, s.scored, s.unmatched) == (3, 4, ("5",))  # id 5 has no prediction: left out
    assert s.accuracy == 0.75


def test_format_errors(tmp_path):
    ref = _write(tmp_path / "ref.jsonl", REFS)
    with pytest.raises(ValueError, match="mismatch between prediction"):
        stsp.score(ref, _write(tmp_path / "short.jsonl", PREDS[:3]))
    with pytest.raises(ValueError, match="valid: sentiment, emotion"):
        stsp.score(ref, ref, "style")
    with pytest.raises(FileNotFoundError):
        stsp.score(tmp_path / "none.jsonl", ref)


def test_reference_from_manifest(tmp_path):
    from test_eval_pipeline import write_manifest

    manifest = write_manifest(tmp_path)
    ref = stsp.write_reference(manifest, tmp_path / "ref.jsonl", "test")
    rows = stsp.read_jsonl(ref)
    assert [(r["id"], r["emotion"], r["sentiment"], r["asr"]) for r in rows] == [
        ("u2", "happy", "positive", "I love it."), ("u3", "sad", "negative", "I love")]
    assert rows[0]["wav_path"] == str((tmp_path / "u2.wav").resolve())
    pred = _write(tmp_path / "pred.jsonl", [{"id": "u2", "pred": "positive"}, {"id": "u3", "pred": "neutral"}])
    assert stsp.score(ref, pred).accuracy == 0.5
