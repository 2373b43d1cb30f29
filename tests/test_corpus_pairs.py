import random

import pytest

from spiritlm.data.corpus.pairs import (
    NonwordGenerator,
    PairConfig,
    build_pairs,
    lexical_pairs,
    read_pairs,
    syllables,
    syntactic_pairs,
)
from spiritlm.data.corpus.texts import word_list

WORDS = ["garden", "window", "river", "stone", "planet", "market", "bottle", "silver", "candle", "ticket",
         "blanket", "pepper", "travel", "monkey", "pocket", "cherry", "yellow", "strong", "bright", "splash"]


def test_syllables():
    assert [syllables(w) for w in ("cat", "garden", "yellow", "happy", "strength", "banana")] == [1, 2, 2, 2, 1, 3]


def test_inventories_come_from_the_words():
    gen = NonwordGenerator(WORDS)
    assert gen.onsets["g"] == 1 and gen.onsets["str"] == 1 and gen.onsets["y"] == 1
    assert gen.codas["sh"] == 1 and gen.codas["ght"] == 1 and gen.codas[""] == 5  # stone bottle candle monkey cherry
    assert gen.nuclei["e"] > gen.nuclei["a"] > 0


def test_nonwords_are_matched_and_not_words():
    words = word_list()
    gen = NonwordGenerator(words)
    rng = random.Random(0)
    for w in ("garden", "window", "elephant", "cat", "strength"):
        nw = gen.nonword_for(w, rng)
        assert syllables(nw) == syllables(w) and abs(len(nw) - len(w)) <= 2
        assert not gen.is_word(nw) and nw not in set(words)
    assert gen.is_word("gardens") and gen.is_word("walked")


def test_lexical_pairs_deterministic():
    a = lexical_pairs(20, 3, WORDS * 1)
    assert a == lexical_pairs(20, 3, WORDS) and len({w for w, _ in a}) == 20
    assert a != lexical_pairs(20, 4, WORDS)


def test_syntactic_pairs_differ_minimally():
    pairs = syntactic_pairs(60, 0)
    assert len({g for _, g, _ in pairs}) == 60
    assert {c for c, _, _ in pairs} == {"subject_verb", "subject_verb_attractor", "determiner_noun", "reflexive",
                                        "irregular_participle", "word_order"}
    for cat, good, bad in pairs:
        g, b = good.split(), bad.split()
        assert len(g) == len(b) and good != bad
        diff = sum(x != y for x, y in zip(g, b))
        assert diff == (2 if cat == "word_order" else 1)
    with pytest.raises(ValueError, match="distinct pairs"):
        syntactic_pairs(100000, 0)


def test_build_pairs_speaks_both_sides(tmp_path):
    res = build_pairs(PairConfig(lexical=4, syntactic=6, engine="espeak", seed=1), tmp_path, words=WORDS)
    assert (res.lexical, res.syntactic) == (4, 6)
    pairs = read_pairs(res.manifest)
    assert [p.kind for p in pairs] == ["lexical"] * 4 + ["syntactic"] * 6
    for p in pairs:
        for item in (p.good, p.bad):
            assert (tmp_path / item.audio).is_file() and item.duration > 0.3
            assert item.words and item.words[-1].end <= item.duration
    with pytest.raises(ValueError, match="has no voice 'nope'"):
        build_pairs(PairConfig(1, 1, "espeak", "nope"), tmp_path / "x", words=WORDS)
