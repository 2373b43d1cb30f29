import pytest

from spiritlm.data.corpus.manifest import text_words
from spiritlm.data.corpus.normalize import normalize, number_to_words, ordinal_words, year_words
from spiritlm.data.corpus.texts import clean, sentence_id, split_sentences


@pytest.mark.parametrize("n, words", [(0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty two"),
                                      (100, "one hundred"), (115, "one hundred fifteen"),
                                      (2024, "two thousand twenty four"),
                                      (1_000_001, "one million one"), (3_000_000_000, "three billion")])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


def test_number_out_of_range():
    with pytest.raises(ValueError, match="outside the supported range"):
        number_to_words(-1)


def test_ordinals_and_years():
    assert [ordinal_words(n) for n in (1, 2, 3, 5, 12, 21, 40, 100)] == [
        "first", "second", "third", "fifth", "twelfth", "twenty first", "fortieth", "one hundredth"]
    assert year_words(1984) == "nineteen eighty four"
    assert year_words(1900) == "nineteen hundred"
    assert year_words(1805) == "eighteen oh five"


@pytest.mark.parametrize("raw, clean_text", [
    ("In 1984, 3.5% of 2,000 people paid $12 on the 2nd.",
     "In nineteen eighty four, three point five percent of two thousand people paid twelve dollars on the second."),
    ('He said "don\'t go" -- really?', "He said don't go, really?"),
    ("Mr. Smith met Dr. Who at 5 o'clock", "Mister Smith met Doctor Who at five o'clock."),
    ("well-known pages 1-2", "Well known pages one to two."),
    ("salt & pepper", "Salt and pepper."),
])
def test_normalize(raw, clean_text):
    assert normalize(raw) == clean_text


@pytest.mark.parametrize("raw", ["see http://example.com now", "The USA is big", "Q: Why do WASPs play golf?",
                                 "x = y[0] * 2", "e.g. this", "", "...", "a_b c"])
def test_normalize_rejects_unspeakable(raw):
    assert normalize(raw) is None


def test_text_words_strip_punctuation_keep_apostrophes():
    assert text_words("Don't stop, 'Tis the END!") == ["don't", "stop", "tis", "the", "end"]


def test_split_sentences_and_ids():
    assert split_sentences("One two three.  Four five six!\nSeven? eight") == [
        "One two three.", "Four five six!", "Seven? eight"]
    assert sentence_id("Hello, World!") == sentence_id("hello world.")
    assert sentence_id("Hello world") != sentence_id("Hello words")
    assert len(sentence_id("a")) == 11


def test_clean_filters_and_dedups():
    seen: set[str] = set()
    out = clean(iter(["The cat sat down.", "the cat, sat down!", "Too short.", "The 2 cats sat down.",
                      "www.site.org is a web site"]), "test", 3, 10, seen)
    assert [s.text for s in out] == ["The cat sat down.", "The two cats sat down."]
    assert all(s.source == "test" for s in out) and len(seen) == 2
