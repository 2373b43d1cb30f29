"""What a corpus holds: hours and utterance counts per speaker, style, split, engine, sentiment and source.

    s = summarize("data/corpus/manifest.jsonl")
    print(format_summary(s))   # the table `spiritlm data summary` prints
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field

from .manifest import Utterance, read_manifest

FACETS = ("speaker", "style", "split", "engine", "sentiment", "source")


@dataclass(frozen=True)
class Tally:
    utterances: int
    hours: float


@dataclass(frozen=True)
class CorpusSummary:
    utterances: int
    hours: float
    words: int
    expresso_utterances: int
    by: dict[str, dict[str, Tally]] = field(default_factory=dict)  # facet -> value -> tally
    split_speakers: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _facet(rec: Utterance, facet: str) -> str:
    return rec.sentiment.label if facet == "sentiment" else str(getattr(rec, facet))


def summarize(manifest: str | os.PathLike) -> CorpusSummary:
    seconds: dict[str, dict[str, float]] = {f: defaultdict(float) for f in FACETS}
    counts: dict[str, dict[str, int]] = {f: defaultdict(int) for f in FACETS}
    speakers: dict[str, set[str]] = defaultdict(set)
    n = words = expresso = 0
    total = 0.0
    for rec in read_manifest(manifest):
        n += 1
        total += rec.duration
        words += len(rec.words)
        expresso += rec.expresso
        speakers[rec.split].add(rec.speaker)
        for f in FACETS:
            seconds[f][_facet(rec, f)] += rec.duration
            counts[f][_facet(rec, f)] += 1
    by = {f: {k: Tally(counts[f][k], seconds[f][k] / 3600) for k in sorted(seconds[f])} for f in FACETS}
    return CorpusSummary(n, total / 3600, words, expresso, by,
                         {s: tuple(sorted(v)) for s, v in sorted(speakers.items())})


def format_summary(s: CorpusSummary) -> str:
    lines = [f"{s.utterances} utterances, {s.hours:.3f} hours, {s.words} words, "
             f"{s.expresso_utterances} in the sentiment-driven (Expresso-like) subset"]
    for facet, table in s.by.items():
        lines.append(f"\nhours per {facet}:")
        lines += [f"  {k:<28} {t.hours:9.3f} h {t.utterances:8d} utt" for k, t in table.items()]
    seen = set(s.split_speakers.get("train", ()))
    for split in ("valid", "test"):
        unseen = [sp for sp in s.split_speakers.get(split, ()) if sp not in seen]
        if unseen:
            lines.append(f"\n{split} speakers not in train: {', '.join(unseen)}")
    return "\n".join(lines)
