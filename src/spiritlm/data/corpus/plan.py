"""The build plan: which sentence is spoken by which speaker in which style, decided before any audio exists.

The plan is a deterministic stream of `Job`s computed from the seed, the sentence list and the speakers
found: the job for sentence i only depends on (seed, sentence id, speakers), never on timing or worker
order. So a resumed or re-run build makes the same corpus, and a bigger size target extends a smaller one.

Splits are held out two ways. By sentence: a hash of the sentence id puts each sentence in exactly one of
train / valid / test. By speaker: the held-out speakers never speak a train sentence, so valid/test hold
both seen and unseen voices, and train holds no test sentence and no held-out voice.

Styles: a fraction `expresso_fraction` of jobs form the Expresso-like subset, where the style follows the
text's sentiment (positive -> happy, negative -> sad / angry, neutral -> neutral); the rest draw a style
from the inventory that the speaker's engine supports (neutral twice as likely as any other).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

from .engines.base import Voice
from .manifest import Sentiment
from .styles import get_style, style_for_sentiment
from .texts import Sentence


@dataclass(frozen=True)
class Job:
    id: str
    sentence: Sentence
    voice: Voice
    style: str
    split: str
    sentiment: Sentiment
    expresso: bool


def split_of(sentence_id: str, valid: float, test: float) -> str:
    u = int(hashlib.sha1(f"split-{sentence_id}".encode()).hexdigest()[:8], 16) / 16**8
    return "test" if u < test else "valid" if u < test + valid else "train"


def _pick_voice(rng: random.Random, voices: list[Voice], weights: dict[str, float]) -> Voice:
    per_engine = {v.engine: sum(1 for u in voices if u.engine == v.engine) for v in voices}
    w = [weights.get(v.engine, 1.0) / per_engine[v.engine] for v in voices]
    return rng.choices(voices, weights=w)[0]


def _pick_style(rng: random.Random, engine, voice: str, styles: tuple[str, ...]) -> str:
    ok = [s for s in styles if engine.supports(get_style(s), voice)] or ["neutral"]
    return rng.choices(ok, weights=[2.0 if s == "neutral" else 1.0 for s in ok])[0]


def plan_jobs(sentences: list[Sentence], voices: list[Voice], engines: dict, sentiment, *, seed: int,
              styles: tuple[str, ...], held_out: tuple[str, ...], valid: float, test: float,
              expresso_fraction: float, engine_weights: dict[str, float], voices_per_sentence: int = 1
              ) -> Iterator[Job]:
    """Jobs in build order. `engines` maps engine name -> object with `supports(style)`; `sentiment` scores text."""
    if not voices:
        raise ValueError("no speakers: none of the requested TTS engines is installed")
    seen_voices = [v for v in voices if v.speaker not in held_out] or voices
    for k in range(voices_per_sentence):
        for sent in sentences:
            rng = random.Random(f"{seed}-{sent.id}-{k}")
            split = split_of(sent.id, valid, test)
            pool = voices if split != "train" else seen_voices
            senti = sentiment(sent.text)
            expresso = rng.random() < expresso_fraction
            if expresso:  # the style follows the sentiment; only voices that can render it
                style = style_for_sentiment(senti.label, senti.compound)
                able = [v for v in pool if engines[v.engine].supports(get_style(style), v.name)]
                voice = _pick_voice(rng, able or pool, engine_weights)
                style = style if able else "neutral"
            else:
                voice = _pick_voice(rng, pool, engine_weights)
                style = _pick_style(rng, engines[voice.engine], voice.name, styles)
            yield Job(f"{sent.id}-{voice.speaker}-{style}" + (f"-{k}" if k else ""), sent, voice, style, split,
                      senti, expresso)
