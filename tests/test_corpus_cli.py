"""`spiritlm data synth / summary / pairs / align-check`, summary numbers, sentiment and style inventory."""

import json

import pytest

from spiritlm.cli import main
from spiritlm.data.corpus.manifest import read_manifest
from spiritlm.data.corpus.sentiment import SentimentScorer, label_for
from spiritlm.data.corpus.styles import STYLES, get_style, style_for_sentiment
from spiritlm.data.corpus.summary import format_summary, summarize


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    assert main(["data", "synth", str(out), "--preset", "tiny", "--hours", "0.004", "--no-progress"]) == 0
    return out


def test_synth_then_summary(corpus, capsys):
    recs = list(read_manifest(corpus / "manifest.jsonl"))
    s = summarize(corpus / "manifest.jsonl")
    assert s.utterances == len(recs) and s.hours == pytest.approx(sum(r.duration for r in recs) / 3600)
    assert sum(t.hours for t in s.by["speaker"].values()) == pytest.approx(s.hours)
    assert sum(t.utterances for t in s.by["split"].values()) == s.utterances
    assert s.words == sum(len(r.words) for r in recs)
    capsys.readouterr()
    assert main(["data", "summary", str(corpus), "--validate"]) == 0
    out = capsys.readouterr().out
    assert out == format_summary(s) + "\n"
    assert "hours per speaker:" in out and "hours per style:" in out and "hours per split:" in out


def test_summary_of_missing_manifest_is_a_clear_error(tmp_path, capsys):
    assert main(["data", "summary", str(tmp_path / "nope.jsonl")]) == 2
    assert "manifest not found" in capsys.readouterr().err


def test_bad_preset_is_a_clear_error(tmp_path, capsys):
    assert main(["data", "synth", str(tmp_path), "--preset", "huge"]) == 2
    assert "valid presets: tiny, small, mini, 30h" in capsys.readouterr().err


def test_pairs_and_align_check_commands(tmp_path, corpus, capsys):
    assert main(["data", "pairs", str(tmp_path), "--lexical", "3", "--syntactic", "3"]) == 0
    assert len((tmp_path / "pairs.jsonl").read_text().splitlines()) == 6
    assert json.loads((tmp_path / "pairs.jsonl").read_text().splitlines()[0])["kind"] == "lexical"
    assert main(["data", "align-check", str(corpus), "--sample", "3"]) == 0
    assert "word boundaries vs pocketsphinx forced alignment" in capsys.readouterr().out


def test_vader_sentiment():
    score = SentimentScorer()
    good, bad, flat = score("What a wonderful, happy day!"), score("This is a terrible, awful mess."), score(
        "The table has four legs.")
    assert good.label == "positive" and good.compound > 0.5
    assert bad.label == "negative" and bad.compound < -0.5
    assert (flat.label, flat.compound) == ("neutral", 0.0)
    assert [label_for(x) for x in (0.05, 0.0499, -0.05)] == ["positive", "neutral", "negative"]


def test_style_inventory():
    assert set(STYLES) >= {"neutral", "happy", "sad", "angry", "whisper", "fast", "slow", "loud"}
    assert get_style("slow").rate < 1 < get_style("fast").rate and get_style("whisper").whisper
    assert [style_for_sentiment(lb, c) for lb, c in [("positive", 0.7), ("negative", -0.3), ("negative", -0.8),
                                                     ("neutral", 0.0)]] == ["happy", "sad", "angry", "neutral"]
    with pytest.raises(ValueError, match="valid styles: neutral, happy"):
        get_style("bored")
