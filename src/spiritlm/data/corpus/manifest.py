"""The corpus manifest: one JSON object per line, one line per utterance; the contract with every consumer.

A record (`Utterance`) says what was spoken (`text`, normalised so that speech and text agree word for
word), where its audio is (`audio`, a 16 kHz mono 16-bit wav, relative to the manifest's folder), when
each word and phoneme starts and ends (seconds from the start of the wav), who spoke it in which style,
its text sentiment (VADER), and its split. Example line (wrapped here)::

    {"id": "s2a1e53a254-flite-slt-neutral", "audio": "wav/2a/s2a1e53a254-flite-slt-neutral.wav",
     "text": "The theater was jampacked.", "words": [{"word": "the", "start": 0.184, "end": 0.272},
     {"word": "theater", "start": 0.272, "end": 0.685}, {"word": "was", "start": 0.685, "end": 0.927},
     {"word": "jampacked", "start": 0.927, "end": 1.739}], "phonemes": [{"phone": "dh", "start": 0.184,
     "end": 0.233}, {"phone": "ax", "start": 0.233, "end": 0.272}, ...], "speaker": "flite-slt",
     "engine": "flite", "style": "neutral", "sentiment": {"label": "neutral", "compound": 0.0},
     "duration": 1.895, "split": "train", "sentence_id": "s2a1e53a254", "source": "wordnet", "expresso": true}

`words` has exactly one entry per spoken word of `text` (lowercase, punctuation stripped: `text_words`),
in order, inside `[0, duration]`. `phonemes` is empty where the engine gives no phone timings. Splits
are held out by sentence (a sentence is in exactly one split) and by speaker (held-out speakers only
speak valid/test sentences). A line is appended only after its wav is completely written, so a line
never points at a missing or partial file; `read_manifest` ignores a torn last line from a crash.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

SPLITS = ("train", "valid", "test")
SENTIMENT_LABELS = ("positive", "neutral", "negative")
_WORD_RE = re.compile(r"[a-z0-9']+")


class ManifestError(ValueError):
    """A record or manifest that breaks the contract (names the record and the problem)."""


@dataclass(frozen=True)
class TimedWord:
    word: str
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class TimedPhone:
    phone: str
    start: float
    end: float


@dataclass(frozen=True)
class Sentiment:
    label: str  # positive | neutral | negative
    compound: float  # VADER compound score in [-1, 1]


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str  # relative to the manifest folder
    text: str
    words: tuple[TimedWord, ...]
    phonemes: tuple[TimedPhone, ...]
    speaker: str
    engine: str
    style: str
    sentiment: Sentiment
    duration: float
    split: str
    sentence_id: str = ""
    source: str = ""
    expresso: bool = False  # in the Expresso-like subset (style chosen from the sentiment)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(", ", ": "))

    @classmethod
    def from_dict(cls, d: dict) -> Utterance:
        d = {k: v for k, v in d.items() if k != "extra"}  # an always-empty field of early manifests
        try:
            return cls(**{**d, "words": tuple(TimedWord(**w) for w in d["words"]),
                          "phonemes": tuple(TimedPhone(**p) for p in d.get("phonemes", ())),
                          "sentiment": Sentiment(**d["sentiment"])})
        except (KeyError, TypeError) as e:
            raise ManifestError(f"record {d.get('id', '?')!r} is malformed: {e}") from e


def text_words(text: str) -> list[str]:
    """The spoken words of a normalised text: lowercase, punctuation stripped (apostrophes kept)."""
    return [w.strip("'") for w in _WORD_RE.findall(text.lower()) if w.strip("'")]


def check_intervals(words: Iterable[TimedWord | TimedPhone], duration: float, what: str) -> None:
    prev_end = 0.0
    for i, w in enumerate(words):
        if not (0.0 <= w.start <= w.end <= duration + 1e-3):
            raise ManifestError(f"{what} {i} ({w}) is not inside [0, {duration:.3f}] s or has start > end")
        if w.start < prev_end - 1e-3:
            raise ManifestError(f"{what} {i} ({w}) starts before the previous one ends ({prev_end:.3f} s)")
        prev_end = w.end


def validate(rec: Utterance, root: str | os.PathLike | None = None) -> None:
    """Raise ManifestError unless `rec` keeps the contract (and, given `root`, its wav exists)."""
    if rec.split not in SPLITS:
        raise ManifestError(f"record {rec.id}: split {rec.split!r} is not one of {SPLITS}")
    if rec.sentiment.label not in SENTIMENT_LABELS:
        raise ManifestError(f"record {rec.id}: sentiment {rec.sentiment.label!r} is not one of {SENTIMENT_LABELS}")
    if rec.duration <= 0:
        raise ManifestError(f"record {rec.id}: duration {rec.duration} must be positive")
    expected = text_words(rec.text)
    got = [w.word for w in rec.words]
    if got != expected:
        raise ManifestError(f"record {rec.id}: timed words {got} do not match the text's words {expected}")
    check_intervals(rec.words, rec.duration, f"record {rec.id}: word")
    check_intervals(rec.phonemes, rec.duration, f"record {rec.id}: phoneme")
    if root is not None and not (Path(root) / rec.audio).is_file():
        raise ManifestError(f"record {rec.id}: audio file {rec.audio} is missing under {root}")


def read_manifest(path: str | os.PathLike) -> Iterator[Utterance]:
    """Records of a JSON Lines manifest; a torn (unterminated) last line from a crash is skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith("\n"):
                break  # a write that was cut off: the builder redoes it
            if line.strip():
                try:
                    yield Utterance.from_dict(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ManifestError(f"{path}:{n}: not valid JSON: {e}") from e


class ManifestWriter:
    """Appends records, one flushed and fsynced line each; truncates a torn last line first."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(self.path)
        self._f = open(self.path, "a", encoding="utf-8")

    def append(self, rec: Utterance) -> None:
        self._f.write(rec.to_json() + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _drop_torn_tail(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
