"""Style preservation in speech continuation (S->S), judged by the style classifier.

Does an Expressive LM keep speaking the way its prompt was spoken? Each held-out utterance (spoken
in a known style: neutral, happy, sad, angry, whisper, ...) is the prompt; the LM continues in
speech; the vocoder renders only the continuation; the style classifier labels it. The score is the
fraction of continuations whose label equals the prompt's style::

    [Speech] <prompt units: a happy utterance> ──LM──▶ new units ──vocoder──▶ wav ──classifier──▶ "happy"?

Chance is 1 / number of classifier styles; issue 7 targets >= 3x chance. The classifier applied to
the prompts themselves (`prompt_accuracy`) is the ceiling: a continuation cannot be judged more
reliably than the judge reads real speech ([P] §5.5: 0.96 for the paper's speech classifier).
The classifier is a `StyleTokenizer` folder whose `id2label` names the styles (`spiritlm train
style`); an utterance-level label is the argmax of its per-second logits averaged over seconds.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from .common import (
    BenchResult,
    batched,
    preset_of,
    progress,
    record_audio,
    select_records,
    start_benchmark,
)
from .tts import sampling_kwargs, speech_of

logger = logging.getLogger(__name__)


class StyleReferee:
    """Utterance-level style labels from a style classifier (loaded on first use, kept here)."""

    def __init__(self, path: str = "", classifier=None):
        if not path and classifier is None:
            raise ValueError("the style benchmark needs a style classifier: --classifier PATH (a folder written "
                             "by `spiritlm train prosody-referee` or `spiritlm train style`)")
        self.path = path
        self._clf = classifier

    @property
    def classifier(self):
        """A `StyleTokenizer` (per-second logits, averaged) or a `ProsodyReferee` (one utterance label)."""
        if self._clf is None:
            from .prosody import ProsodyReferee, is_prosody_referee

            if is_prosody_referee(self.path):
                self._clf = ProsodyReferee.load(self.path)
            else:
                from ..speech import style

                self._clf = style.load(self.path)
        return self._clf

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    def classify(self, wav: np.ndarray) -> str | None:
        """The style of a waveform; None when it is too short to classify."""
        if len(wav) < self.classifier.min_samples:
            return None
        if hasattr(self.classifier, "classify"):  # a ProsodyReferee labels whole utterances itself
            return self.classifier.classify(np.asarray(wav, np.float32))
        logits = self.classifier.forward_chunk(np.asarray(wav, np.float32)).logits  # [n, C]
        return self.labels[int(logits.mean(dim=0).argmax())]


@dataclass(frozen=True)
class StyleConfig:
    model: str = ""
    manifest: str = ""
    classifier: str = ""
    split: str = "test"
    limit: int | None = 100
    max_new_tokens: int = 150  # about 5 s of Expressive speech
    temperature: float = 0.8  # the paper's STSP sampling (App. D)
    top_p: float = 0.95
    seed: int = 0
    batch_size: int = 4
    speaker_id: int | None = None
    progress: bool = True

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> StyleConfig:
        return preset_of(cls, PRESETS, name, overrides)


PRESETS = {"default": StyleConfig(), "tiny": StyleConfig(limit=2, max_new_tokens=40, batch_size=2, progress=False)}


def continue_speech(lm, prompts: list, config) -> list:
    """S->S continuations of speech prompts (units), not yet synthesized."""
    inputs = [[("speech", u)] for u in prompts]
    return lm.generate_batch(inputs, output_modality="speech", max_new_tokens=config.max_new_tokens, seed=config.seed,
                             synthesize=False, **sampling_kwargs(config.temperature, config.top_p))


def evaluate(config: StyleConfig, lm=None, referee: StyleReferee | None = None) -> BenchResult:
    lm, timer = start_benchmark(config, lm)
    referee = referee or StyleReferee(config.classifier)
    records = select_records(config.manifest, config.split, config.limit)
    items = []
    for batch in progress(list(batched(records, config.batch_size)), desc="style", enabled=config.progress):
        wavs = [record_audio(config.manifest, r) for r in batch]
        results = continue_speech(lm, [lm.speech_encoder.encode_units(w) for w in wavs], config)
        for rec, wav, res in zip(batch, wavs, results):
            out, problem = speech_of(lm, res, config.speaker_id)
            items.append({"id": rec.id, "style": rec.style, "prompt_pred": referee.classify(wav),
                          "pred": referee.classify(out) if len(out) else None, "problem": problem,
                          "seconds_out": round(len(out) / 16000, 3)})
    n = len(items)
    chance = 1.0 / len(referee.labels)
    acc = sum(r["pred"] == r["style"] for r in items) / n
    metrics = {"accuracy": acc, "chance": chance, "x_chance": acc / chance,
               "prompt_accuracy": sum(r["prompt_pred"] == r["style"] for r in items) / n,
               "failed": float(sum(r["pred"] is None for r in items))}
    logger.info("S->S style on %d prompts: %.3f (chance %.3f)", n, acc, chance)
    return BenchResult("style", metrics, n, asdict(config) | {"labels": referee.labels}, items, timer.seconds)


def run(config: StyleConfig) -> dict:
    return evaluate(config).to_dict()
