"""Sequence builders: worked example, property tests of word-level interleaving, parallel format."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiritlm.data.interleave import (
    AlignedUtterance,
    SpanConfig,
    WordTiming,
    interleaved,
    parallel,
    sample_spans,
    segments_to_ids,
    speech_only,
    split_ids,
    text_only,
)
from spiritlm.tokens import tokens_to_units, units_to_ids
from spiritlm.units import SpeechUnits
from spiritlm.vocab import TokenLayout


class CharTokenizer:
    """Test stand-in for the text tokenizer: one id per ASCII character, after <unk> <s> </s>."""

    bos_id, eos_id, text_vocab_size = 1, 2, 3 + 128

    def encode_text(self, text: str) -> list[int]:
        return [3 + ord(c) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i - 3) for i in ids)


TOK = CharTokenizer()
BASE = TokenLayout.base(TOK.text_vocab_size)
EXPR = TokenLayout.expressive(TOK.text_vocab_size)


@st.composite
def utterances(draw, expressive: bool | None = None):
    n = draw(st.integers(1, 45))
    words, t = [], draw(st.floats(0.0, 0.5))
    for _ in range(n):
        w = draw(st.text("abcdefgh", min_size=1, max_size=6))
        dur = draw(st.floats(0.0, 0.7))
        words.append(WordTiming(w, t, t + dur))
        t += dur + draw(st.floats(0.0, 0.3))
    total = t + draw(st.floats(0.0, 0.4))
    n_hu = max(1, math.ceil(total * 25))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    hubert = rng.integers(0, 6, n_hu)  # few values: long runs exercise deduplication
    if expressive is None:
        expressive = draw(st.booleans())
    pitch = rng.integers(0, 4, math.ceil(n_hu / 2)) if expressive else None
    style = rng.integers(0, 3, math.ceil(n_hu / 25)) if expressive else None
    text = "  ".join(w.word.upper() if i % 3 == 0 else w.word for i, w in enumerate(words)) + "."
    return AlignedUtterance(text, tuple(words), SpeechUnits(hubert, pitch, style), id="u")


def _frames_of(utt: AlignedUtterance, a: int, b: int) -> np.ndarray:
    """HuBERT frames whose official timestamp i/24.99 falls in the slots of words [a, b)."""
    w = utt.words
    lo = -np.inf if a == 0 else (w[a - 1].end + w[a].start) / 2
    hi = np.inf if b == len(w) else (w[b - 1].end + w[b].start) / 2
    t = np.arange(len(utt.units.hubert)) / 24.99
    return np.nonzero((t >= lo) & (t < hi))[0]


def _aligned_source(units: SpeechUnits) -> SpeechUnits:
    """Pitch and style in force at each HuBERT frame (streams merged by official timestamps)."""
    t = np.arange(len(units.hubert)) / 24.99
    if units.pitch is None:
        return SpeechUnits(units.hubert, aligned=True)
    pi = np.minimum(np.searchsorted(np.arange(len(units.pitch)) / 12.5, t, side="right") - 1, len(units.pitch) - 1)
    si = np.minimum(np.searchsorted(np.arange(len(units.style)) / 1.0, t, side="right") - 1, len(units.style) - 1)
    return SpeechUnits(units.hubert, units.pitch[pi], units.style[si], aligned=True)


@settings(max_examples=150, deadline=None)
@given(utterances(), st.integers(0, 10**6))
def test_every_word_once_and_text_round_trip(utt, seed):
    segs = interleaved(utt, random.Random(seed), SpanConfig((2, 6), (1, 4)))
    covered = [i for s in segs for i in range(s.first_word, s.last_word)]
    assert covered == list(range(len(utt.words)))
    assert all(a.modality != b.modality for a, b in zip(segs, segs[1:]))
    assert " ".join(s.text for s in segs) == " ".join(utt.text.split())
    for s in segs:
        assert (s.modality == "speech") == bool(s.tokens)
        assert s.text.lower().split() == [w.word for w in utt.words[s.first_word:s.last_word]] or s is segs[-1]


@settings(max_examples=150, deadline=None)
@given(utterances(), st.integers(0, 10**6))
def test_speech_spans_round_trip_to_source_units(utt, seed):
    segs = interleaved(utt, random.Random(seed), SpanConfig((1, 5), (1, 5)))
    source = _aligned_source(utt.units)
    spoken = []
    for s in [s for s in segs if s.modality == "speech"]:
        frames = _frames_of(utt, s.first_word, s.last_word)
        spoken += frames.tolist()
        expected = SpeechUnits(source.hubert[frames], *(None if x is None else x[frames]
                                                         for x in (source.pitch, source.style)), aligned=True)
        assert tokens_to_units(s.tokens, missing_style=None) == expected.dedup_hubert()
    # text spans hold exactly the frames no speech span took
    text_frames = [f for s in segs if s.modality == "text" for f in _frames_of(utt, s.first_word, s.last_word)]
    assert sorted(spoken + text_frames) == list(range(len(utt.units.hubert)))


@settings(max_examples=100, deadline=None)
@given(utterances(), st.integers(0, 10**6))
def test_markers_only_at_boundaries(utt, seed):
    layout = EXPR if utt.units.is_expressive else BASE
    segs = interleaved(utt, random.Random(seed), SpanConfig((1, 8), (1, 8)))
    ids = segments_to_ids(segs, TOK, layout)
    assert ids[0] == TOK.bos_id and ids[-1] == TOK.eos_id
    runs = split_ids(ids[1:-1], layout)
    assert [m for m, _ in runs] == [s.modality for s in segs]
    for (modality, body), seg in zip(runs, segs):
        if modality == "text":
            assert TOK.decode(body) == seg.text
        else:
            assert body == [layout.unit_id(s, v) for s, v in seg.tokens]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(0, 10**6))
def test_span_lengths_follow_the_config(n, seed):
    cfg = SpanConfig()
    spans = sample_spans(n, random.Random(seed), cfg)
    assert spans[0][1] == 0 and spans[-1][2] == n
    for (m, a, b), nxt in zip(spans, spans[1:] + [None]):
        lo, hi = cfg.speech_words if m == "speech" else cfg.text_words
        assert b - a <= hi and (b - a >= lo or nxt is None)
        if nxt is not None:
            assert nxt[0] != m and nxt[1] == b


@settings(max_examples=50, deadline=None)
@given(utterances())
def test_speech_only_is_the_official_token_order(utt):
    layout = EXPR if utt.units.is_expressive else BASE
    ids = segments_to_ids(speech_only(utt.units), TOK, layout, bos=False, eos=False)
    assert ids == [layout.speech_marker_id] + units_to_ids(utt.units, layout)


def _example() -> AlignedUtterance:
    words = tuple(WordTiming(w, s, e) for w, s, e in [
        ("the", 0.0, 0.2), ("cat", 0.25, 0.55), ("sat", 0.6, 0.9), ("on", 0.95, 1.05), ("the", 1.1, 1.2),
        ("mat", 1.25, 1.6)])
    hubert = np.arange(40) // 3  # runs of three: 0 0 0 1 1 1 ...
    return AlignedUtterance("The cat sat on the mat.", words, SpeechUnits(hubert, np.arange(20) % 7, [4, 5]))


def test_worked_example_exact_ids():
    utt = _example()
    segs = interleaved(utt, random.Random(3), SpanConfig((3, 3), (3, 3), p_start_speech=1.0))
    assert [(s.modality, s.first_word, s.last_word, s.text) for s in segs] == [
        ("speech", 0, 3, "The cat sat"), ("text", 3, 6, "on the mat.")]
    # words 0-2 end at the cut (0.9 + 0.95) / 2 = 0.925 s: frames 0..23 (23/24.99 = 0.920)
    hu = [v for s, v in segs[0].tokens if s == "hubert"]
    assert hu == list(range(8))
    segs = interleaved(utt, random.Random(0), SpanConfig((2, 2), (2, 2), p_start_speech=0.0))
    assert [(s.modality, s.first_word, s.last_word) for s in segs] == [("text", 0, 2), ("speech", 2, 4),
                                                                       ("text", 4, 6)]
    # words 2-3: frames 15..26 (cuts 0.575 s and 1.075 s); the span starts with the St4 and Pi0 (pitch
    # frame 7 at 0.56 s, in the text span) in force at its first frame
    assert segs[1].tokens[:4] == (("style", 4), ("pitch", 0), ("hubert", 5), ("pitch", 1))
    assert [v for s, v in segs[1].tokens if s == "hubert"] == [5, 6, 7, 8]
    assert [v for s, v in segs[1].tokens if s == "style"] == [4, 5]  # St5 at 1.0 s, in time order
    ids = segments_to_ids(segs, TOK, EXPR)
    assert ids[:3] == [1, EXPR.text_marker_id, 3 + ord("T")]
    assert ids[2 + len("The cat")] == EXPR.speech_marker_id


def test_resampled_every_draw_and_deterministic_by_seed():
    words = tuple(WordTiming(f"w{i}", i * 0.3, i * 0.3 + 0.2) for i in range(80))
    utt = AlignedUtterance(" ".join(w.word for w in words), words, SpeechUnits(np.arange(600) % 50))
    rng = random.Random(7)
    draws = [tuple((s.modality, s.first_word) for s in interleaved(utt, rng)) for _ in range(5)]
    assert len(set(draws)) == 5
    again = random.Random(7)
    assert [tuple((s.modality, s.first_word) for s in interleaved(utt, again)) for _ in range(5)] == draws


def test_parallel_and_text_only():
    utt = _example()
    asr = parallel(utt, "asr")
    assert [s.modality for s in asr] == ["speech", "text"] and asr[1].text == "The cat sat on the mat."
    assert [s.modality for s in parallel(utt, "tts")] == ["text", "speech"]
    assert text_only("  a  b ") == [text_only("a b")[0]]
    with pytest.raises(ValueError, match="valid: asr, tts"):
        parallel(utt, "s2s")


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="1 <= min <= max"):
        SpanConfig(text_words=(5, 2))
    with pytest.raises(ValueError, match="no word alignments"):
        interleaved(AlignedUtterance("", (), SpeechUnits([1, 2])), random.Random(0))
    with pytest.raises(ValueError, match="raw units"):
        speech_only(SpeechUnits([1, 2], aligned=True))


def test_locate_words_matches_whole_words_only():
    from spiritlm.data.interleave import locate_words

    def w(*words):
        return [WordTiming(x, 0.0, 0.0) for x in words]

    assert locate_words("Don't stop, a cat!", w("don't", "stop", "a", "cat")) == [0, 6, 12, 14]
    assert locate_words("Bad cat", w("a", "cat")) is None  # "a" only occurs inside "Bad"
