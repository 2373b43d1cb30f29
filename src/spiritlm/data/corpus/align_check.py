"""Check the manifest's word times against an independent aligner: pocketsphinx forced alignment.

pocketsphinx (CMU Sphinx, acoustic model and dictionary bundled in the PyPI wheel) is given the audio and
the known word sequence and finds the most likely time of every word (10 ms frames). We compare each word
boundary (start and end) with the manifest and report the mean and median absolute difference, the share
within 20 / 50 ms, per engine. espeak's formant speech is far from the HMM's training data, so the beams
are widened (otherwise "Final result does not match the grammar"). Utterances whose words are not in the
aligner's dictionary, or that it cannot align, are counted and skipped.

    report = align_check("data/corpus/manifest.jsonl", sample=50)
    print(format_report(report))     # what `spiritlm data align-check` prints
"""

from __future__ import annotations

import logging
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...audio import load_audio
from .manifest import TimedWord, Utterance, read_manifest

logger = logging.getLogger(__name__)
FRAME = 0.01  # pocketsphinx frame shift, seconds


@dataclass(frozen=True)
class EngineErrors:
    utterances: int
    boundaries: int
    mean_ms: float
    median_ms: float
    within_20ms: float  # share of boundaries
    within_50ms: float


@dataclass(frozen=True)
class AlignReport:
    checked: int
    skipped: int
    overall: EngineErrors
    per_engine: dict[str, EngineErrors] = field(default_factory=dict)


class ForcedAligner:
    """pocketsphinx word-level forced alignment of 16 kHz audio to a known lowercase word sequence."""

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as e:
            raise ImportError("align-check needs pocketsphinx: pip install 'spiritlm[data]'") from e
        self._decoder = Decoder(samprate=16000, bestpath=False, beam=1e-100, pbeam=1e-100, wbeam=1e-80,
                                loglevel="ERROR")

    def align(self, wav: np.ndarray, words: list[str]) -> list[TimedWord]:
        d = self._decoder
        missing = [w for w in words if d.lookup_word(w) is None]
        if missing:
            raise ValueError(f"words not in the pocketsphinx dictionary: {missing}")
        d.set_align_text(" ".join(words))
        pcm = (np.clip(wav, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        if d.hyp() is None:
            raise ValueError("pocketsphinx could not align the audio to the text")
        segs = [s for s in d.seg() if not s.word.startswith(("<", "["))]
        out = [TimedWord(s.word.split("(")[0], s.start_frame * FRAME, (s.end_frame + 1) * FRAME) for s in segs]
        if [w.word for w in out] != words:
            raise ValueError("the aligner did not return the word sequence")
        return out


def boundary_errors(ours: tuple[TimedWord, ...] | list[TimedWord], ref: list[TimedWord]) -> list[float]:
    """|start - start'| and |end - end'| of every word, in seconds."""
    return [abs(a.start - b.start) for a, b in zip(ours, ref)] + [abs(a.end - b.end) for a, b in zip(ours, ref)]


def _stats(errors: list[float], n_utts: int) -> EngineErrors:
    e = np.asarray(errors, dtype=np.float64) * 1000.0
    if e.size == 0:
        return EngineErrors(n_utts, 0, float("nan"), float("nan"), float("nan"), float("nan"))
    return EngineErrors(n_utts, int(e.size), round(float(e.mean()), 2), round(float(np.median(e)), 2),
                        round(float((e <= 20).mean()), 4), round(float((e <= 50).mean()), 4))


def align_check(manifest: str | os.PathLike, sample: int = 50, engine: str | None = None,
                seed: int = 0) -> AlignReport:
    """Forced-align a seeded random sample of the manifest and measure the word-boundary differences."""
    from tqdm import tqdm

    manifest = Path(manifest)
    recs: list[Utterance] = [r for r in read_manifest(manifest) if engine is None or r.engine == engine]
    if not recs:
        raise ValueError(f"no utterances{f' of engine {engine}' if engine else ''} in {manifest}")
    recs = random.Random(seed).sample(recs, min(sample, len(recs)))
    aligner = ForcedAligner()
    errors: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    skipped = 0
    for rec in tqdm(recs, desc="align-check", unit="utt"):
        try:
            ref = aligner.align(load_audio(manifest.parent / rec.audio), [w.word for w in rec.words])
        except (ValueError, RuntimeError) as e:
            logger.info("skipping %s: %s", rec.id, e)
            skipped += 1
            continue
        errors[rec.engine] += boundary_errors(rec.words, ref)
        counts[rec.engine] += 1
    all_errors = [x for v in errors.values() for x in v]
    return AlignReport(sum(counts.values()), skipped, _stats(all_errors, sum(counts.values())),
                       {k: _stats(errors[k], counts[k]) for k in sorted(errors)})


def format_report(r: AlignReport) -> str:
    def row(name: str, e: EngineErrors) -> str:
        return (f"  {name:<10} {e.utterances:5d} utt {e.boundaries:6d} boundaries  mean {e.mean_ms:7.1f} ms  "
                f"median {e.median_ms:6.1f} ms  <=20 ms {e.within_20ms:6.1%}  <=50 ms {e.within_50ms:6.1%}")

    lines = [f"word boundaries vs pocketsphinx forced alignment ({r.checked} utterances, {r.skipped} skipped):",
             row("all", r.overall)]
    return "\n".join(lines + [row(k, v) for k, v in r.per_engine.items()])
