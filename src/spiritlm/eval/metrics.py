"""The scoring rules every benchmark shares: text normalisation, WER/CER, pair and label accuracy.

Error rates are corpus-level, as jiwer and the papers compute them: the edits (substitutions +
deletions + insertions) of every utterance summed, divided by the summed reference length. Before
scoring, both sides go through `normalize_text` (lowercase, punctuation dropped, apostrophes inside
words kept, whitespace collapsed), the same rule the corpus uses for its timed words, so that
"Well, show me!" and "well show me" are identical. Numbers are not spelled out: a hypothesis "3"
against a reference "three" counts as an error. Worked example::

    error_rate(["The cat sat."], ["the cat"], "word")  -> 1 deletion / 3 words = 0.3333
    error_rate(["abc d"], ["abd d"], "char")            -> 1 substitution / 5 characters = 0.2

Pair benchmarks (sWUGGY, sBLIMP, StoryCloze) score 1 when the good item's score is higher, 0.5 on
an exact tie and 0 otherwise (ZeroSpeech 2021 rule), then average.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_WORD_RE = re.compile(r"[a-z0-9']+")
UNITS = ("word", "char")


def normalize_text(text: str) -> str:
    """Lowercase words of `text` joined by single spaces (punctuation and outer apostrophes dropped)."""
    words = (w.strip("'") for w in _WORD_RE.findall(text.lower().replace("-", " ")))
    return " ".join(w for w in words if w)


@dataclass(frozen=True)
class ErrorRate:
    """Corpus-level edit counts; `rate` = (S + D + I) / reference length."""

    unit: str  # word | char
    substitutions: int
    deletions: int
    insertions: int
    reference_length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        return self.errors / self.reference_length if self.reference_length else float("nan")


def error_rate(references: Sequence[str], hypotheses: Sequence[str], unit: str = "word") -> ErrorRate:
    """WER (`unit="word"`) or CER (`unit="char"`) of hypotheses against references, after normalisation."""
    import jiwer

    if unit not in UNITS:
        raise ValueError(f"unknown error-rate unit {unit!r}; valid: {', '.join(UNITS)}")
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    refs = [normalize_text(r) for r in references]
    hyps = [normalize_text(h) for h in hypotheses]
    keep = [i for i, r in enumerate(refs) if r]
    if not keep:
        raise ValueError("every reference is empty after normalisation: nothing to score")
    refs, hyps = [refs[i] for i in keep], [hyps[i] for i in keep]
    out = (jiwer.process_words if unit == "word" else jiwer.process_characters)(refs, hyps)
    length = sum(len(r.split()) if unit == "word" else len(r) for r in refs)
    return ErrorRate(unit, out.substitutions, out.deletions, out.insertions, length)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    return error_rate(references, hypotheses, "word").rate


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    return error_rate(references, hypotheses, "char").rate


def pair_score(good: float, bad: float) -> float:
    """1 if the good item scores higher, 0.5 on a tie, 0 otherwise."""
    if good > bad:
        return 1.0
    return 0.5 if good == bad else 0.0


def pair_accuracy(scores: Sequence[tuple[float, float]]) -> float:
    """Mean `pair_score` over (good, bad) score pairs."""
    if not scores:
        raise ValueError("no pairs to score")
    return sum(pair_score(g, b) for g, b in scores) / len(scores)


def accuracy(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Exact-match accuracy of labels."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not references:
        raise ValueError("no labels to score")
    return sum(p == r for p, r in zip(predictions, references)) / len(references)


def majority_label(labels: Sequence[str]) -> str:
    """The most frequent label; a tie goes to the label seen first."""
    if not labels:
        raise ValueError("no labels to vote on")
    counts = Counter(labels)
    best = max(counts.values())
    return next(lab for lab in labels if counts[lab] == best)
