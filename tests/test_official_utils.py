"""Appendix B: the official tests/test_spirit_model.py cases, verbatim."""

import pytest

from spiritlm.model.spiritlm_model import Spiritlm
from spiritlm.model.utils import (
    does_end_with_speech_token,
    does_start_with_speech_token,
    find_prompt_last_speech_start_position,
    parse_speech_and_text,
)


@pytest.mark.parametrize("content,expected", [
    ("abc[Speech][St1][Pi234][Hu123][Hu45][Text]hello world[",
     [("abc", "t"), ("[St1][Pi234][Hu123][Hu45]", "s"), ("hello world[", "t")]),
    ("[St1][Pi234][Hu123][Hu45]", [("[St1][Pi234][Hu123][Hu45]", "s")]),
    ("abc", [("abc", "t")]),
    ("abc[]", [("abc[]", "t")]),
    ("[St1][Pi234][Hu123][Hu45][Text][abc", [("[St1][Pi234][Hu123][Hu45]", "s"), ("[abc", "t")]),
    ("abc[Text]def", [("abcdef", "t")]),
    ("[Hu338][Text] and they went out together[Speech][Hu431][Pi0][Hu457][Hu79][Pi11][Hu258][Hu85][Hu28][Hu50]"
     "[Text] and mrs johnson  shoes except in mourning[Speech][Pi59][Hu32][Pi20][Hu453][Pi35][Pi26][Hu166]",
     [("[Hu338]", "s"), (" and they went out together", "t"),
      ("[Hu431][Pi0][Hu457][Hu79][Pi11][Hu258][Hu85][Hu28][Hu50]", "s"),
      (" and mrs johnson  shoes except in mourning", "t"), ("[Pi59][Hu32][Pi20][Hu453][Pi35][Pi26][Hu166]", "s")]),
])
def test_parse_speech_and_text(content, expected):
    assert parse_speech_and_text(content) == expected
    assert Spiritlm._parse_speech_and_text(content) == expected


@pytest.mark.parametrize("s,expected", [("]]", False), ("[]", False), ("[Hu100]", True), ("abc[]", False),
                                        ("[St1][Pi234][Hu123][Hu45][Text][abc]", False), ("abc[Text]def", False),
                                        ("[Pi9]", True), ("[St0]", True)])
def test_does_end_with_speech_token(s, expected):
    assert does_end_with_speech_token(s) is expected


@pytest.mark.parametrize("s,expected", [("[[", False), ("[]", False), ("[Hu100]", True), ("abc[]", False),
                                        ("[St1][Pi234][Hu123][Hu45][Text][abc]", True), ("abc[Text]def", False),
                                        ("[Pi9]", True), ("[St0]", True)])
def test_does_start_with_speech_token(s, expected):
    assert does_start_with_speech_token(s) is expected


@pytest.mark.parametrize("s,expected", [("abc[Hu123][Hu456][Pi23][St2]", 3),
                                        ("[Hu123]abc[Hu123][Hu456][Pi23][St2]", 10),
                                        ("[Hu123][Hu456][Pi23][St2]", 0), ("abc", None)])
def test_find_prompt_last_speech_start_position(s, expected):
    assert find_prompt_last_speech_start_position(s) == expected


def test_find_prompt_last_speech_start_position_long(official_vectors):
    assert find_prompt_last_speech_start_position(official_vectors["a4_prompt"]) == 8
