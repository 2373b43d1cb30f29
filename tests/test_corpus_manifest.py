import json

import pytest

from spiritlm.data.corpus.manifest import (
    ManifestError,
    ManifestWriter,
    Sentiment,
    TimedPhone,
    TimedWord,
    Utterance,
    read_manifest,
    validate,
)


def _rec(**kw) -> Utterance:
    base = dict(id="s1-espeak-en-us-neutral", audio="wav/s1.wav", text="Hello big world.",
                words=(TimedWord("hello", 0.1, 0.4), TimedWord("big", 0.4, 0.6), TimedWord("world", 0.65, 1.0)),
                phonemes=(TimedPhone("h", 0.1, 0.2),), speaker="espeak-en-us", engine="espeak", style="neutral",
                sentiment=Sentiment("neutral", 0.0), duration=1.2, split="train")
    return Utterance(**{**base, **kw})


def test_roundtrip_json(tmp_path):
    rec = _rec()
    with ManifestWriter(tmp_path / "m.jsonl") as w:
        w.append(rec)
        w.append(_rec(id="two"))
    back = list(read_manifest(tmp_path / "m.jsonl"))
    assert back[0] == rec and back[1].id == "two"
    d = json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])
    assert d["words"][1] == {"word": "big", "start": 0.4, "end": 0.6}
    assert d["sentiment"] == {"label": "neutral", "compound": 0.0}


def test_validate_ok_and_missing_wav(tmp_path):
    validate(_rec())
    with pytest.raises(ManifestError, match="audio file wav/s1.wav is missing"):
        validate(_rec(), tmp_path)


@pytest.mark.parametrize("change, message", [
    (dict(split="dev"), "split 'dev'"),
    (dict(sentiment=Sentiment("happy", 0.5)), "sentiment 'happy'"),
    (dict(text="Hello small world."), "do not match the text's words"),
    (dict(words=(TimedWord("hello", 0.1, 0.4), TimedWord("big", 0.3, 0.6), TimedWord("world", 0.65, 1.0))),
     "starts before the previous one ends"),
    (dict(duration=0.8), "not inside"),
    (dict(phonemes=(TimedPhone("h", 0.3, 0.2),)), "start > end"),
])
def test_validate_rejects(change, message):
    with pytest.raises(ManifestError, match=message):
        validate(_rec(**change))


def test_torn_last_line_is_ignored_and_truncated(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(_rec().to_json() + "\n" + _rec(id="torn").to_json()[:40])
    assert [r.id for r in read_manifest(path)] == [_rec().id]
    with ManifestWriter(path) as w:
        w.append(_rec(id="next"))
    assert [r.id for r in read_manifest(path)] == [_rec().id, "next"]


def test_bad_json_names_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(_rec().to_json() + "\n{oops\n")
    with pytest.raises(ManifestError, match="m.jsonl:2"):
        list(read_manifest(path))
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        list(read_manifest(tmp_path / "none.jsonl"))


def test_records_are_hashable_and_immutable():
    rec = _rec()
    assert len({rec, _rec()}) == 1
    with pytest.raises(AttributeError):
        rec.text = "changed"
