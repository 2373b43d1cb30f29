"""Sentences to speak, from text corpora that install as Debian packages (no download at run time).

Sources (each a generator of raw sentences; `SOURCES` maps names to them):

* `fortunes`: fortune cookies (`fortunes`, `fortunes-min`): quotes, jokes, questions; cookies are split
  into sentences and attribution lines ("-- Mark Twain") are dropped.
* `wordnet`: the quoted usage examples of WordNet 3.0 glosses (`wordnet-base`), e.g. "the dog barked".
* `bible`: the King James Bible (`bible-kjv-text`), verse by verse, split into sentences.

`load_sentences` normalises every sentence (`normalize.normalize`), keeps those of `min_words` to
`max_words` words, removes duplicates (same words, ignoring case and punctuation), and interleaves the
sources after a seeded shuffle, so that any prefix of the list is a balanced mix. A sentence's id is a
hash of its words: it does not change when sources or the seed change, and it decides the split.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from .manifest import text_words
from .normalize import normalize

logger = logging.getLogger(__name__)

FORTUNE_DIR = Path("/usr/share/games/fortunes")
WORDNET_DIR = Path("/usr/share/wordnet")
WORD_LIST = Path("/usr/share/dict/american-english")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


@dataclass(frozen=True)
class Sentence:
    id: str  # "s" + 10 hex digits of sha1 over the lowercase words
    text: str  # normalised
    source: str


def sentence_id(text: str) -> str:
    return "s" + hashlib.sha1(" ".join(text_words(text)).encode()).hexdigest()[:10]


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(paragraph.split())) if s.strip()]


def fortunes(folder: Path = FORTUNE_DIR) -> Iterator[str]:
    if not folder.is_dir():
        raise FileNotFoundError(f"fortune files not found in {folder} (apt-get install fortunes fortunes-min)")
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.suffix and not p.is_symlink()):
        for cookie in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            lines = [ln for ln in cookie.splitlines() if not ln.strip().startswith("--")]
            yield from split_sentences(" ".join(lines))


def wordnet_examples(folder: Path = WORDNET_DIR) -> Iterator[str]:
    files = [folder / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    if not all(f.is_file() for f in files):
        raise FileNotFoundError(f"WordNet data files not found in {folder} (apt-get install wordnet-base)")
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue  # licence header
            yield from re.findall(r'"([^"]+)"', line.split(" | ", 1)[1])


def bible_verses() -> Iterator[str]:
    exe = shutil.which("bible")
    if exe is None:
        raise FileNotFoundError("the `bible` program was not found (apt-get install bible-kjv)")
    out = subprocess.run([exe, "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        verse = line.split(" ", 1)[1] if re.match(r"^\S+\d+:\d+ ", line) else line
        yield from split_sentences(verse)


def word_list(path: Path = WORD_LIST) -> list[str]:
    """Lowercase alphabetic words (no possessives, no proper nouns) from the system dictionary."""
    if not path.is_file():
        raise FileNotFoundError(f"word list not found: {path} (apt-get install wamerican)")
    words = (w.strip() for w in path.read_text(encoding="utf-8", errors="replace").splitlines())
    return sorted({w for w in words if w.isascii() and w.isalpha() and w.islower()})


SOURCES: dict[str, Callable[[], Iterator[str]]] = {
    "fortunes": fortunes, "wordnet": wordnet_examples, "bible": bible_verses}


def clean(raw: Iterator[str], source: str, min_words: int, max_words: int, seen: set[str]) -> list[Sentence]:
    out = []
    for r in raw:
        text = normalize(r)
        if text is None or not min_words <= len(text_words(text)) <= max_words:
            continue
        sid = sentence_id(text)
        if sid not in seen:
            seen.add(sid)
            out.append(Sentence(sid, text, source))
    return out


def load_sentences(sources: tuple[str, ...] = ("fortunes", "wordnet", "bible"), min_words: int = 4,
                   max_words: int = 30, seed: int = 0, limit: int | None = None) -> list[Sentence]:
    """Clean, deduplicated sentences from `sources`, shuffled by `seed` and interleaved source by source."""
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown text sources {unknown}; valid sources: {', '.join(SOURCES)}")
    if not 1 <= min_words <= max_words:
        raise ValueError(f"need 1 <= min_words <= max_words, got {min_words}, {max_words}")
    seen: set[str] = set()
    per_source = []
    for name in sources:
        sents = clean(SOURCES[name](), name, min_words, max_words, seen)
        random.Random(f"{seed}-{name}").shuffle(sents)
        logger.info("text source %s: %d clean sentences", name, len(sents))
        per_source.append(sents)
    mixed = [s for group in zip_longest(*per_source) for s in group if s is not None]
    return mixed[:limit] if limit is not None else mixed
