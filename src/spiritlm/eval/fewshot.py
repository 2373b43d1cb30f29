"""Few-shot prompts for the cross-modal tasks, in the paper's formats ([P] App. B).

A few-shot prompt repeats k solved examples, then the query, and lets the LM continue in the asked
modality. With the release's markers (`[Text]`, `[Speech]`) and `<sp>` the utterance's speech tokens::

    TTS (text -> speech):  [Text] the cat sat[Speech]<sp> ... [Text] a dog ran[Speech]  -> speech
    ASR (speech -> text):  [Speech]<sp>[Text]<START Transcript> the cat sat <END> ...
                           [Speech]<sp>[Text]<START Transcript>                       -> text, cut at <END>

Markers are written only when the modality changes (`spiritlm.generation.prompt`). Shots come from
the training split, shortest-first among a seeded random sample, so that they fit the context and
never overlap the held-out queries; the same shots prefix every query. Their units are computed once.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from ..data.corpus.manifest import Utterance
from ..units import SpeechUnits
from .common import record_audio, select_records

logger = logging.getLogger(__name__)

START, END = "<START Transcript>", "<END>"


@dataclass(frozen=True)
class Shot:
    text: str
    units: SpeechUnits


def pick_shot_records(manifest: str, k: int, split: str = "train", seed: int = 0, max_seconds: float = 4.0,
                      pool: int = 2000) -> list[Utterance]:
    """k records of `split` no longer than `max_seconds`, a seeded sample (shortest first)."""
    if k <= 0:
        return []
    candidates = select_records(manifest, split, pool, keep=lambda r: r.duration <= max_seconds)
    if len(candidates) < k:
        raise ValueError(f"only {len(candidates)} {split} utterances of <= {max_seconds} s for {k} shots; "
                         "lower --shots or raise max_shot_seconds")
    chosen = random.Random(seed).sample(candidates, k)
    return sorted(chosen, key=lambda r: (r.duration, r.id))


def make_shots(lm, manifest: str, records: list[Utterance]) -> list[Shot]:
    return [Shot(r.text, lm.speech_encoder.encode_units(record_audio(manifest, r))) for r in records]


def config_shots(lm, config) -> tuple[list[Utterance], list[Shot]]:
    """The shot records a few-shot config picks (`shots`, `shot_split`, `seed`, `max_shot_seconds`) and their shots."""
    records = pick_shot_records(config.manifest, config.shots, config.shot_split, config.seed,
                                config.max_shot_seconds)
    return records, make_shots(lm, config.manifest, records)


def tts_inputs(shots: list[Shot], text: str) -> list[tuple[str, object]]:
    """`[Text] t [Speech]<sp>` per shot, then `[Text] query` (the pipeline appends `[Speech]`)."""
    inputs: list[tuple[str, object]] = []
    for s in shots:
        inputs += [("text", f" {s.text} "), ("speech", s.units)]
    return inputs + [("text", f" {text} ")]


def asr_inputs(shots: list[Shot], units: SpeechUnits, flags: bool = True) -> list[tuple[str, object]]:
    """`[Speech]<sp>[Text]<START Transcript> t <END>` per shot, then `[Speech]<sp>[Text]<START Transcript>`."""
    inputs: list[tuple[str, object]] = []
    for s in shots:
        inputs += [("speech", s.units), ("text", f"{START} {s.text} {END}" if flags else f" {s.text} ")]
    inputs.append(("speech", units))
    if flags:
        inputs.append(("text", START))
    return inputs


def cut_transcript(text: str) -> str:
    """The generated transcript up to the end flag (or a new start flag), stripped."""
    for flag in (END, START, "<"):
        if flag in text:
            text = text.split(flag, 1)[0]
    return text.strip()
