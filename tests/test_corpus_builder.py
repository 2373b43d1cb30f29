"""The builder end to end: a ~1-minute espeak corpus, its contract, splits, determinism, resume, bad input."""

import errno
import json
from dataclasses import replace
from pathlib import Path

import pytest

from spiritlm.data.corpus import builder as builder_mod
from spiritlm.data.corpus.builder import BuildConfig, build_corpus, get_preset
from spiritlm.data.corpus.engines.base import EngineError
from spiritlm.data.corpus.manifest import read_manifest, validate
from spiritlm.data.corpus.texts import Sentence, load_sentences

TINY = get_preset("tiny")


@pytest.fixture(scope="module")
def sentences() -> list[Sentence]:
    return load_sentences(("wordnet",), seed=0, limit=400)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    """The `tiny` preset exactly as `spiritlm data synth --preset tiny` runs it (texts loaded from WordNet)."""
    out = tmp_path_factory.mktemp("tiny")
    build_corpus(TINY, out, progress=False)
    return out


def test_one_minute_corpus_keeps_the_contract(tiny_corpus):
    recs = list(read_manifest(tiny_corpus / "manifest.jsonl"))
    total = sum(r.duration for r in recs)
    assert 60.0 <= total < 75.0  # stops at the first utterance past one minute
    for r in recs:
        validate(r, tiny_corpus)
        assert r.engine == "espeak" and r.speaker.startswith("espeak-")
        assert r.sentiment.label in ("positive", "neutral", "negative") and -1 <= r.sentiment.compound <= 1
    info = __import__("soundfile").info(str(tiny_corpus / recs[0].audio))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert abs(info.frames / 16000 - recs[0].duration) < 1e-3
    assert len({r.speaker for r in recs}) >= 4 and len({r.style for r in recs}) >= 4
    assert not list(tiny_corpus.rglob("*.part"))
    meta = json.loads((tiny_corpus / "build.json").read_text())
    assert meta["engines"] == ["espeak"]


def test_splits_hold_out_sentences_and_speakers(tiny_corpus):
    recs = list(read_manifest(tiny_corpus / "manifest.jsonl"))
    by_split = {s: [r for r in recs if r.split == s] for s in ("train", "valid", "test")}
    assert all(by_split.values())
    train_sents = {r.sentence_id for r in by_split["train"]}
    assert not train_sents & {r.sentence_id for r in by_split["valid"] + by_split["test"]}
    assert all(r.speaker not in TINY.held_out_speakers for r in by_split["train"])


def test_expresso_subset_follows_sentiment(tiny_corpus):
    recs = [r for r in read_manifest(tiny_corpus / "manifest.jsonl") if r.expresso]
    assert recs
    want = {"positive": {"happy"}, "negative": {"sad", "angry"}, "neutral": {"neutral"}}
    assert all(r.style in want[r.sentiment.label] for r in recs)


def _ids(out: Path) -> list[str]:
    return [r.id for r in read_manifest(out / "manifest.jsonl")]


def test_parallel_equals_serial_and_is_deterministic(tmp_path, sentences):
    cfg = replace(TINY, hours=20 / 3600)
    build_corpus(cfg, tmp_path / "a", sentences=sentences, progress=False)
    build_corpus(replace(cfg, workers=2), tmp_path / "b", sentences=sentences, progress=False)
    assert _ids(tmp_path / "a") == _ids(tmp_path / "b") and len(_ids(tmp_path / "a")) >= 4
    wavs = sorted(p.relative_to(tmp_path / "b").as_posix() for p in (tmp_path / "b").rglob("*.wav"))
    assert wavs == sorted(r.audio for r in read_manifest(tmp_path / "b" / "manifest.jsonl"))  # no orphans
    other = replace(cfg, seed=1)
    build_corpus(other, tmp_path / "c", sentences=sentences, progress=False)
    assert _ids(tmp_path / "c") != _ids(tmp_path / "a")


def test_resume_after_crash_loses_nothing(tmp_path, sentences):
    cfg = replace(TINY, hours=20 / 3600)
    full = tmp_path / "full"
    build_corpus(cfg, full, sentences=sentences, progress=False)
    part = tmp_path / "part"
    build_corpus(replace(cfg, hours=8 / 3600), part, sentences=sentences, progress=False)
    # simulate a crash in the middle of a manifest write, after its wav was written
    with open(part / "manifest.jsonl", "a") as f:
        f.write('{"id": "half a line')
    res = build_corpus(cfg, part, sentences=sentences, progress=False)
    assert _ids(part) == _ids(full)
    assert res.added > 0 and res.records == len(_ids(full))
    for r in read_manifest(part / "manifest.jsonl"):
        validate(r, part)
    again = build_corpus(cfg, part, sentences=sentences, progress=False)
    assert again.added == 0


def test_resume_with_other_settings_is_refused(tmp_path, sentences):
    cfg = replace(TINY, hours=5 / 3600)
    build_corpus(cfg, tmp_path, sentences=sentences, progress=False)
    with pytest.raises(ValueError, match="another config"):
        build_corpus(replace(cfg, seed=3), tmp_path, sentences=sentences, progress=False)


class _FlakyEngine:
    """espeak, except that it cannot speak any text containing the letter 'q' (like an engine crash)."""

    def __init__(self):
        from spiritlm.data.corpus.engines.espeak import EspeakEngine

        self.inner = EspeakEngine()

    def synthesize(self, text, voice, style):
        if "q" in text.lower():
            raise EngineError("cannot speak q")
        return self.inner.synthesize(text, voice, style)


def test_unspeakable_texts_are_skipped_and_logged(tmp_path, monkeypatch, caplog):
    sents = [Sentence(f"s{i:010x}", t, "test") for i, t in enumerate(
        ["The quick fox runs.", "A slow dog sleeps here.", "Quiet please in here.", "The birds sing at dawn."])]
    monkeypatch.setattr(builder_mod, "_ENGINES", {"espeak": _FlakyEngine()})
    res = build_corpus(replace(TINY, hours=1.0), tmp_path, sentences=sents, progress=False)
    assert (res.added, res.skipped) == (2, 2)
    assert [r.text for r in read_manifest(res.manifest)] == ["A slow dog sleeps here.", "The birds sing at dawn."]
    assert "cannot speak q" in caplog.text
    assert len(list(tmp_path.rglob("*.wav"))) == 2


def test_full_disk_stops_with_a_clear_message(tmp_path, monkeypatch, sentences):
    real_write, calls = builder_mod.write_audio, []

    def failing_write(path, wav, sample_rate=16000):
        calls.append(path)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, wav, sample_rate)

    monkeypatch.setattr(builder_mod, "write_audio", failing_write)
    with pytest.raises(RuntimeError, match="disk full .* 2 records were saved"):
        build_corpus(replace(TINY, hours=1.0), tmp_path, sentences=sentences, progress=False)
    recs = list(read_manifest(tmp_path / "manifest.jsonl"))
    assert len(recs) == 2 and all((tmp_path / r.audio).is_file() for r in recs)


def test_config_errors_name_the_options():
    with pytest.raises(ValueError, match="valid presets: tiny, small, mini, 30h"):
        get_preset("huge")
    with pytest.raises(ValueError, match="valid styles"):
        BuildConfig(styles=("neutral", "sarcastic"))
    with pytest.raises(ValueError, match="valid engines: espeak, flite, festival, piper"):
        BuildConfig(engines=("mbrola",))
