"""Unit cache (sharded, resumable) and the data mixture (proportions, packing, masks, resume)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from spiritlm.audio import load_audio
from spiritlm.data.datasets import DocumentBuilder, PackedMixture, eval_batches, load_pools
from spiritlm.data.interleave import SpanConfig, split_ids
from spiritlm.data.unit_cache import UnitCache, build_unit_cache, read_manifest
from test_train_support import SpectralPeakEncoder, text_tokenizer, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    manifest = write_corpus(root / "data", n_utts=10)
    enc = SpectralPeakEncoder(expressive=True)
    for rank in (0, 1):
        build_unit_cache(manifest, root / "cache", enc, rank=rank, world_size=2, chunk_size=2, progress=False)
    tok = text_tokenizer(root / "tok", expressive=True)
    return manifest, UnitCache(root / "cache"), tok


def test_unit_cache_matches_direct_encoding(corpus):
    manifest, cache, _ = corpus
    enc = SpectralPeakEncoder(expressive=True)
    records = read_manifest(manifest)
    assert len(cache) == 10 and cache.is_expressive and sorted(cache.ids) == [r["id"] for r in records]
    for rec in records:
        assert cache[rec["id"]] == enc.encode_units(load_audio(manifest.parent / rec["audio"]))
    times = cache.frame_times("u000", "pitch")
    assert times[:3].tolist() == [0.0, 0.08, 0.16]


def test_unit_cache_resumes_and_checks_settings(corpus, tmp_path):
    manifest, _, _ = corpus
    enc = SpectralPeakEncoder()
    first = build_unit_cache(manifest, tmp_path, enc, rank=1, world_size=2, chunk_size=2, progress=False)
    assert (first.records, first.encoded, first.chunks) == (5, 5, 3)
    sorted(tmp_path.glob("units-r001-w002-c*.npz"))[1].unlink()  # as if killed while writing chunk 1
    again = build_unit_cache(manifest, tmp_path, enc, rank=1, world_size=2, chunk_size=2, progress=False)
    assert again.encoded == 2
    assert sorted(UnitCache(tmp_path).ids) == ["u001", "u003", "u005", "u007", "u009"]
    with pytest.raises(ValueError, match="other settings"):
        build_unit_cache(manifest, tmp_path, enc, rank=0, world_size=3, chunk_size=2, progress=False)


def _stream(corpus, weights, seed=0, seq_len=48, packing=True):
    manifest, cache, tok = corpus
    pools = load_pools(manifest, cache, split="train")
    builder = DocumentBuilder(tok, tok.layout, SpanConfig((2, 4), (1, 3)))
    return PackedMixture(pools, builder, weights, seq_len, seed=seed, packing=packing, pad_id=tok.pad_id)


def test_mixture_proportions_and_determinism(corpus):
    s = _stream(corpus, {"text": 1, "speech": 1, "interleaved": 1})
    kinds = []
    for _ in range(900):
        s._draw()
        kinds.append(max(s._counts, key=lambda k: s._counts[k] - s._doc_counts[k]))
    shares = {k: kinds.count(k) / 900 for k in ("text", "speech", "interleaved")}
    assert all(abs(v - 1 / 3) < 0.05 for v in shares.values()), shares
    a, b = _stream(corpus, {"text": 1, "speech": 2}, seed=5), _stream(corpus, {"text": 1, "speech": 2}, seed=5)
    assert all(np.array_equal(a.next_row()[0], b.next_row()[0]) for _ in range(20))
    c = _stream(corpus, {"text": 1, "speech": 2}, seed=6)
    assert not all(np.array_equal(a.next_row()[0], c.next_row()[0]) for _ in range(5))


def test_packing_concatenates_documents_exactly(corpus):
    s = _stream(corpus, {"text": 1, "interleaved": 1}, seq_len=40)
    rows = np.concatenate([s.next_row()[0] for _ in range(30)])
    replay = _stream(corpus, {"text": 1, "interleaved": 1}, seq_len=40)
    docs = []
    while sum(map(len, docs)) < len(rows):
        replay._draw()
        docs.append(replay._doc)
    assert rows.tolist() == [i for d in docs for i in d][:len(rows)]
    tok = corpus[2]
    assert rows[0] == tok.bos_id and tok.eos_id in rows.tolist()


def test_no_packing_pads_and_masks(corpus):
    s = _stream(corpus, {"text": 1}, seq_len=64, packing=False)
    ids, mask = s.next_row()
    n = int(mask.sum())
    assert 3 < n < 64 and mask[:n].all() and not mask[n:].any()
    assert ids[n - 1] == corpus[2].eos_id and (ids[n:] == corpus[2].pad_id).all()
    assert split_ids(ids[1:n - 1].tolist(), corpus[2].layout)[0][0] == "text"


def test_resume_mid_epoch_gives_the_same_rows(corpus):
    weights = {"text": 1, "speech": 1, "interleaved": 1}
    s = _stream(corpus, weights, seed=3)
    for _ in range(random.Random(0).randint(20, 40)):  # several epochs of the small pools
        s.next_row()
    state = s.state_dict()
    expected = [s.next_row()[0] for _ in range(15)]
    resumed = _stream(corpus, weights, seed=3)
    resumed.load_state_dict(state)
    assert all(np.array_equal(a, resumed.next_row()[0]) for a in expected)
    with pytest.raises(ValueError, match="seed"):
        _stream(corpus, weights, seed=4).load_state_dict(state)


def test_eval_batches_and_bad_weights(corpus):
    manifest, cache, tok = corpus
    pools = load_pools(manifest, cache, split="valid")
    builder = DocumentBuilder(tok, tok.layout)
    batches = eval_batches(pools, builder, "speech", n_rows=5, seq_len=32, batch_size=2)
    assert [b.input_ids.shape[0] for b in batches] == [2, 2, 1]
    again = eval_batches(pools, builder, "speech", n_rows=5, seq_len=32, batch_size=2)
    assert all(bool((a.input_ids == b.input_ids).all()) for a, b in zip(batches, again))
    assert (batches[0].input_ids[0, 1] == tok.layout.speech_marker_id).item()
    with pytest.raises(ValueError, match="valid: text, speech"):
        PackedMixture(pools, builder, {"music": 1}, 32)
    with pytest.raises(ValueError, match="no data for kinds"):
        PackedMixture({"text": []}, builder, {"text": 1}, 32)


def test_manifest_reader_ignores_only_a_torn_last_line(tmp_path):
    good = '{"id": "a", "audio": "a.wav"}\n'
    (tmp_path / "m.jsonl").write_text(good + '{"id": "b", "aud')
    assert [r["id"] for r in read_manifest(tmp_path / "m.jsonl")] == ["a"]
    (tmp_path / "m.jsonl").write_text('{"id": "b", "aud\n' + good)
    with pytest.raises(ValueError, match="m.jsonl:1: not JSON"):
        read_manifest(tmp_path / "m.jsonl")
    (tmp_path / "m.jsonl").write_text('{"id": "c"}\n')
    with pytest.raises(ValueError, match="lacks audio"):
        read_manifest(tmp_path / "m.jsonl")


def test_cli_data_units_builds_a_cache(corpus, tmp_path, capsys):
    from spiritlm.cli import main

    manifest = corpus[0]
    argv = ["data", "units", "--manifest", str(manifest), "--out", str(tmp_path / "u"), "--encoder",
            "test_train_support:SpectralPeakEncoder", "--chunk-size", "4"]
    assert main(argv) == 0
    assert "10 records (10 encoded now) in 3 chunks" in capsys.readouterr().out
    assert len(UnitCache(tmp_path / "u")) == 10
    assert main(argv[:-3] + ["os:getcwd"]) == 2  # not a SpeechEncoder: one clear error line
    assert "did not give a SpeechEncoder" in capsys.readouterr().err


def test_base_model_from_an_expressive_cache_uses_hubert_only(corpus):
    manifest, cache, tok = corpus
    pools = load_pools(manifest, cache, split="train", hubert_only=True)
    utt = pools["speech"][0]
    assert utt.units.pitch is None and utt.units == type(utt.units)(cache[utt.id].hubert)
