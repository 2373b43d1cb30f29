"""Text normalisation: make the written sentence say exactly what the TTS engine will speak.

Engines expand digits and symbols their own way ("1984" may become "one thousand nine hundred ..." or
"nineteen eighty-four"), so a raw text and its audio would disagree word for word. We expand them first,
in one fixed way, and keep only sentences made of plain words and punctuation afterwards:

    normalize('In 1984, 3.5% of 2,000 people paid $12 on the 2nd.')
    -> 'In nineteen eighty four, three point five percent of two thousand people paid twelve dollars on the
        second.'

Anything we cannot put into words reliably (URLs, code, acronyms that an engine would spell letter by
letter, markup) makes `normalize` return None, and the sentence is dropped.
"""

from __future__ import annotations

import re
import unicodedata

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}
_ABBREVIATIONS = {"Mr.": "Mister", "Mrs.": "Missus", "Dr.": "Doctor", "St.": "Saint", "Mt.": "Mount",
                  "Jr.": "Junior", "Sr.": "Senior", "vs.": "versus", "etc.": "et cetera", "Prof.": "Professor"}
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at "}
_REJECT = re.compile(r"https?:|www\.|\.com|[<>{}\[\]|\\/_~^*#]|[A-Z]{2,}|\b\w+\.\w+\.")
_ALLOWED = re.compile(r"[A-Za-z' ,.;:?!]+")


def number_to_words(n: int) -> str:
    """Cardinal English words for 0 <= n < 10**12, e.g. 2024 -> 'two thousand twenty four'."""
    if not 0 <= n < 10**12:
        raise ValueError(f"number {n} is outside the supported range 0 .. 10**12 - 1")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{number_to_words(head)} {name}" + ("" if rest == 0 else " " + number_to_words(rest))
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """2 -> 'second', 21 -> 'twenty first', 40 -> 'fortieth'."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join(words[:-1] + [last])


def year_words(n: int) -> str:
    """Years are read in pairs: 1984 -> 'nineteen eighty four', 1900 -> 'nineteen hundred'."""
    head, tail = divmod(n, 100)
    if tail == 0:
        return f"{number_to_words(head)} hundred"
    return f"{number_to_words(head)} " + (f"oh {_ONES[tail]}" if tail < 10 else number_to_words(tail))


def _expand_numbers(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"\$(\d+)", lambda m: f"{m.group(1)} " + ("dollar" if m.group(1) == "1" else "dollars"), text)
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: ordinal_words(int(m.group(1))), text)
    text = re.sub(r"\b(\d+)\.(\d+)\b", lambda m: number_to_words(int(m.group(1))) + " point "
                  + " ".join(_ONES[int(d)] for d in m.group(2)), text)
    text = re.sub(r"\b(1[1-9]\d\d)\b", lambda m: year_words(int(m.group(1))), text)
    return re.sub(r"\b\d{1,12}\b", lambda m: number_to_words(int(m.group())), text)


def normalize(raw: str) -> str | None:
    """A clean, speakable sentence, or None when `raw` cannot be put into plain words."""
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    text = text.replace("''", '"').replace("``", '"')
    if _REJECT.search(text):
        return None
    for abbr, full in _ABBREVIATIONS.items():
        text = text.replace(abbr, full)
    text = re.sub(r"\s*--+\s*", ", ", text)
    text = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text)
    text = re.sub(r"(?<=\d)-(?=\d)", " to ", text)
    for sym, word in _SYMBOLS.items():
        text = text.replace(sym, word)
    text = _expand_numbers(text)
    text = re.sub(r"[\"`()]", "", text)
    text = re.sub(r"(^|\s)'|'(\s|$|[,.;:?!])", r"\1\2", text)  # quote marks, not apostrophes inside words
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    text = re.sub(r"([,.;:?!])[,.;:?!]+", r"\1", text)
    text = re.sub(r"\s+", " ", text).strip(" ,;:")
    if not text or not _ALLOWED.fullmatch(text) or not re.search(r"[A-Za-z]", text):
        return None
    if re.search(r"[.;:?!,](?=\S)", text):  # punctuation glued to the next word, e.g. "a.b"
        return None
    if text[-1] not in ".?!":
        text += "."
    return text[0].upper() + text[1:]
