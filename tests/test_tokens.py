"""The official string format (official-release.md §7.2-7.3, Appendix A)."""

import random

import numpy as np
import pytest

from spiritlm.tokens import (
    format_tokens,
    interleave,
    parse_unit_string,
    split_markup,
    string_to_units,
    tokens_to_units,
    units_to_string,
    units_to_tokens,
)
from spiritlm.units import SpeechUnits


def test_official_expressive_string(official_vectors):
    v = official_vectors
    units = SpeechUnits(v["hubert"], v["pitch"], v["style"])
    s = units_to_string(units)
    assert s == v["string_expressive"]
    assert len(s) == 1654 and s.count("[Hu") == 167 and s.count("[Pi") == 82 and s.count("[St") == 10


def test_official_base_string(official_vectors):
    assert units_to_string({"hubert": " ".join(map(str, official_vectors["hubert"]))}) == \
        official_vectors["string_base"]


def test_docstring_example():
    # The official docstring shows per-Hu streams; run through the real algorithm (streams at their own
    # rates: Pi at i/12.5, St at i/1 and never deduplicated) the same dict gives this string.
    units = {"hubert": "78 42 81 159 316 259", "pitch": "13 13 13 13 13 3", "style": "81 81 81 81 81 81"}
    assert units_to_string(units) == "[St81][Pi13][Hu78][Hu42][Hu81][Hu159][Hu316][Hu259][Pi3]" + "[St81]" * 5
    back = string_to_units("[St81][Hu78][Pi13][Hu42][Hu81][Hu159][Hu316][Pi3][Hu259]")
    assert back.to_official_dict() == {"hubert": "78 42 81 159 316 259", "pitch": "13 13 13 13 13 3",
                                       "style": "81 81 81 81 81 81"}


def test_rate_24_99_matters_after_100_seconds():
    # Pitch index 1251 at 12.5 Hz is t=100.08 s; Hu index 2501 is at 100.08 s with 24.99 Hz, 100.04 s with 25.
    n = 2600
    units = SpeechUnits(np.arange(n) % 2, np.arange(n // 2) % 2, np.zeros(n // 25, dtype=np.int64))
    assert units_to_string(units) != units_to_string(units, hubert_rate=25.0)
    short = SpeechUnits(np.arange(200) % 2, np.arange(100) % 2, np.zeros(8, dtype=np.int64))
    assert units_to_string(short) == units_to_string(short, hubert_rate=25.0)


def test_equal_timestamps_order_st_pi_hu():
    toks = interleave(SpeechUnits([5], [6], [7]))
    assert toks == [("style", 7), ("pitch", 6), ("hubert", 5)]


def test_dedup_keeps_first_index_and_never_dedups_style():
    s = units_to_string(SpeechUnits([1, 1, 1, 2], [3, 3], [4, 4]))
    assert s == "[St4][Pi3][Hu1][Hu2][St4]"  # the second St4 is at t=1 s, after the last Hu (t=0.12 s)
    s = units_to_string(SpeechUnits([1] * 60, [3] * 30, [4, 4, 4]))
    assert s == "[St4][Pi3][Hu1][St4][St4]"


def test_string_to_units_backfill_and_carry():
    u = string_to_units("[Hu5][Hu6][Pi2][St9][Hu7][Pi3][Hu8]")
    assert u.aligned
    assert u.hubert.tolist() == [5, 6, 7, 8]
    assert u.pitch.tolist() == [2, 2, 2, 3]
    assert u.style.tolist() == [9, 9, 9, 9]


def test_missing_style_is_deterministic_by_default():
    u = string_to_units("[Pi4][Hu1][Hu2]")
    assert u.style.tolist() == [71, 71]
    assert string_to_units("[Pi4][Hu1]", missing_style=None).style is None
    seen = {int(string_to_units("[Pi4][Hu1]", missing_style="random", rng=random.Random(s)).style[0])
            for s in range(40)}
    assert seen == {71, 68, 98}
    with pytest.raises(ValueError, match="missing_style"):
        string_to_units("[Pi4][Hu1]", missing_style=-3)


def test_duplicate_hubert_for_multiple_pitch():
    u = string_to_units("[St1][Pi4][Hu10][Pi5][Pi6][Hu11]", duplicate_hubert_for_multiple_pitch=True)
    assert u.hubert.tolist() == [10, 10, 11]
    assert u.pitch.tolist() == [4, 6, 6]
    u2 = string_to_units("[St1][Pi4][Hu10][Pi5][Pi6][Hu11]")
    assert u2.hubert.tolist() == [10, 11] and u2.pitch.tolist() == [4, 6]


def test_base_string_has_hubert_only():
    u = string_to_units("[Hu3][Hu4]")
    assert u.pitch is None and u.style is None and u.hubert.tolist() == [3, 4]


def test_aligned_round_trip(official_vectors):
    aligned = string_to_units(official_vectors["string_expressive"])
    assert len(aligned) == 167
    assert tokens_to_units(units_to_tokens(aligned)) == aligned


@pytest.mark.parametrize("bad", ["[Hu12", "[Pi-1]", "[Hu1x]", "[Hu12]abc", "[St]"])
def test_malformed_unit_strings(bad):
    with pytest.raises(ValueError, match="malformed|unexpected text"):
        parse_unit_string(bad)


@pytest.mark.parametrize("bad", ["[Text]hi [Hu12", "[Pi-1]", "[Speech][Hu 3]", "x[St]y"])
def test_malformed_markup_in_prompts(bad):
    with pytest.raises(ValueError, match="malformed speech token"):
        split_markup(bad)


def test_split_markup_keeps_text_brackets():
    assert split_markup("[Text]a [b] c[Speech][Hu1][Pi2]") == ["[Text]", "a [b] c", "[Speech]", "[Hu1]", "[Pi2]"]
    assert format_tokens(parse_unit_string("[Speech][Hu1][St3]")) == "[Hu1][St3]"
