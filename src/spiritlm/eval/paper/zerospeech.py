"""sLM21 scores as the ZeroSpeech 2021 scripts compute them (zerospeech/zerospeech2021,
`zerospeech2021/lexical.py` and `syntactic.py`), re-implemented without pandas:

1. per (pair, voice): 1 if score(correct) > score(incorrect), 0.5 on a tie, else 0;
2. per pair: the mean over its voices (lexical: per `id`; syntactic: per (type, subtype, id));
3. overall: the mean over pairs. Lexical also by frequency band, with the scripts' bins
   `[0, 1) oov, [1, 5) "1-5", [5, 20) "6-20", [20, 100) "21-100", [100, inf) ">100"` (left-closed,
   as `pandas.cut(..., right=False)` makes them), and in-vocab (frequency >= 1) vs OOV; syntactic by type.

Worked example: pair w1 with voices A (word -3.0, non-word -4.0 -> 1) and B (-5.0, -5.0 -> 0.5) scores
0.75; with pair w2 scoring 0 the overall accuracy is (0.75 + 0) / 2 = 0.375.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..metrics import pair_score
from .releases import ZrPair

BANDS = (("oov", 0, 1), ("1-5", 1, 5), ("6-20", 5, 20), ("21-100", 20, 100), (">100", 100, float("inf")))


def band(frequency: int) -> str:
    for name, lo, hi in BANDS:
        if lo <= frequency < hi:
            return name
    raise ValueError(f"frequency must be >= 0, got {frequency}")


@dataclass(frozen=True)
class PairResult:
    key: str
    score: float  # mean over voices
    n_voices: int
    frequency: int | None
    type: str


def by_pair(pairs: Sequence[ZrPair], good: Sequence[float], bad: Sequence[float]) -> list[PairResult]:
    """Step 1 and 2: per-voice pair scores averaged per pair key (first-seen order)."""
    if not len(pairs) == len(good) == len(bad):
        raise ValueError(f"{len(pairs)} pairs but {len(good)} / {len(bad)} scores")
    acc: dict[str, list[float]] = {}
    first: dict[str, ZrPair] = {}
    for p, g, b in zip(pairs, good, bad):
        acc.setdefault(p.key, []).append(pair_score(g, b))
        first.setdefault(p.key, p)
    return [PairResult(k, sum(v) / len(v), len(v), first[k].frequency, first[k].type) for k, v in acc.items()]


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def lexical_summary(results: Sequence[PairResult]) -> dict[str, float]:
    """`all`, `invocab`, `oov` and one entry per frequency band (bands without pairs are left out)."""
    out = {"all": _mean([r.score for r in results]),
           "invocab": _mean([r.score for r in results if r.frequency]),
           "oov": _mean([r.score for r in results if not r.frequency])}
    for name, _, _ in BANDS:
        xs = [r.score for r in results if band(r.frequency or 0) == name]
        if xs:
            out[f"band {name}"] = _mean(xs)
    return out


def syntactic_summary(results: Sequence[PairResult]) -> dict[str, float]:
    """`all` and one entry per BLiMP type."""
    out = {"all": _mean([r.score for r in results])}
    for t in sorted({r.type for r in results}):
        out[f"type {t}"] = _mean([r.score for r in results if r.type == t])
    return out
