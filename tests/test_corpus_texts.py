"""The Debian text sources parse into clean, deduplicated, interleaved sentences."""

import pytest

from spiritlm.data.corpus.manifest import text_words
from spiritlm.data.corpus.normalize import normalize
from spiritlm.data.corpus.texts import bible_verses, fortunes, load_sentences, word_list, wordnet_examples


def test_raw_sources():
    assert next(iter(bible_verses())) == "In the beginning God created the heaven and the earth."
    assert sum(1 for _ in fortunes()) > 20000
    examples = wordnet_examples()
    first = [next(examples) for _ in range(3)]
    assert all(isinstance(e, str) and e and '"' not in e for e in first)
    words = word_list()
    assert len(words) > 60000 and "garden" in words and all(w.islower() and w.isalpha() for w in words[:1000])


def test_load_sentences_mixes_cleans_and_dedups():
    sents = load_sentences(("fortunes", "bible"), min_words=4, max_words=30, seed=0)
    assert len(sents) > 35000  # ~20k fortunes + ~21.6k bible sentences
    assert [s.source for s in sents[:4]] == ["fortunes", "bible", "fortunes", "bible"]
    assert len({s.id for s in sents}) == len(sents)
    for s in sents[:500]:
        assert 4 <= len(text_words(s.text)) <= 30
        assert normalize(s.text) == s.text  # normalising is idempotent
    # each source is shuffled by (seed, source name) alone: the same fortunes order without the bible
    fortunes_first = [s.id for s in sents if s.source == "fortunes"][:20]
    assert [s.id for s in load_sentences(("fortunes",), seed=0, limit=20)] == fortunes_first
    assert [s.id for s in load_sentences(("fortunes",), seed=1, limit=20)] != fortunes_first


def test_unknown_source_lists_valid_ones():
    with pytest.raises(ValueError, match="valid sources: fortunes, wordnet, bible"):
        load_sentences(("gutenberg",))
