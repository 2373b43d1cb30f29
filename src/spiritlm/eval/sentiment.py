"""Sentiment preservation across modalities (STSP-like: T->S, S->T, and T->T / S->S).

The prompt is a held-out utterance with a known sentiment (positive / neutral / negative: VADER on
its text, the corpus label); the LM continues in the other modality; the continuation's sentiment
is classified and compared with the prompt's ([P] §4.4, T3). Judges, all offline:

* text continuation  -> VADER on the text;
* speech continuation -> Whisper transcript -> VADER (`judge="text"`), and/or the style classifier's
  label mapped to a sentiment as Expresso's map does (`judge="style"`): happy -> positive,
  sad / angry -> negative, neutral -> neutral; other styles (whisper, fast, ...) give no sentiment.

Chance is 1/3 for balanced classes; `balanced=True` takes equally many prompts per sentiment, and
the majority-class rate of the references is reported beside the accuracy. `pred_file` writes the
predictions in the official STSP format (`stsp.py`) so the official scorer can read them.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from ..data.corpus.manifest import SENTIMENT_LABELS
from ..data.corpus.sentiment import SentimentScorer
from .asr_whisper import Transcriber, WhisperTranscriber
from .common import (
    BenchResult,
    batched,
    preset_of,
    progress,
    record_audio,
    select_records,
    start_benchmark,
)
from .style import StyleReferee
from .tts import sampling_kwargs, speech_of

logger = logging.getLogger(__name__)

DIRECTIONS = ("t2s", "s2t", "t2t", "s2s")
JUDGES = ("text", "style")
STYLE_TO_SENTIMENT = {"happy": "positive", "sad": "negative", "angry": "negative", "neutral": "neutral"}


@dataclass(frozen=True)
class SentimentConfig:
    model: str = ""
    manifest: str = ""
    direction: str = "t2s"
    judge: str = "text"  # for speech output: Whisper + VADER ("text") or the style classifier ("style")
    classifier: str = ""  # style classifier folder (judge="style")
    split: str = "test"
    limit: int | None = 99
    balanced: bool = True
    max_new_tokens: int = 0  # 0: the paper's lengths (50 text, 200 T->S, 300 S->S)
    temperature: float = 0.8
    top_p: float = 0.95
    seed: int = 0
    batch_size: int = 4
    whisper: str = "tiny.en"
    pred_file: str = ""  # optional: official STSP prediction jsonl
    progress: bool = True

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> SentimentConfig:
        return preset_of(cls, PRESETS, name, overrides)


PRESETS = {"default": SentimentConfig(),
           "tiny": SentimentConfig(limit=2, balanced=False, max_new_tokens=12, batch_size=2, progress=False)}


def paper_max_new_tokens(direction: str) -> int:
    return {"t2t": 50, "s2t": 50, "t2s": 200, "s2s": 300}[direction]


def balanced_records(records: list, limit: int | None) -> list:
    """Round-robin over sentiment labels (manifest order within a label), at most `limit` records."""
    by_label = {lab: [r for r in records if r.sentiment.label == lab] for lab in SENTIMENT_LABELS}
    per = min(len(v) for v in by_label.values())
    if per == 0:
        raise ValueError(f"balanced sampling needs every sentiment in the split; counts "
                         f"{ {k: len(v) for k, v in by_label.items()} } (use balanced=False)")
    out = [by_label[lab][i] for i in range(per) for lab in SENTIMENT_LABELS]
    return out[:limit] if limit is not None else out


def check_config(config: SentimentConfig) -> None:
    if config.direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {config.direction!r}; valid: {', '.join(DIRECTIONS)}")
    if config.judge not in JUDGES:
        raise ValueError(f"unknown judge {config.judge!r}; valid: {', '.join(JUDGES)}")


class Judge:
    """Sentiment of a continuation: VADER on text; Whisper + VADER or the style map on speech."""

    def __init__(self, config: SentimentConfig, transcriber: Transcriber | None, referee: StyleReferee | None):
        self.vader = SentimentScorer()
        self.judge = config.judge
        self._asr = transcriber
        self._whisper = config.whisper
        self._referee = referee
        self._classifier = config.classifier

    def text(self, text: str) -> str:
        return self.vader(text).label

    def speech(self, wav) -> tuple[str | None, str]:
        """(sentiment or None, what was heard: a transcript or a style label)."""
        if len(wav) == 0:
            return None, ""
        if self.judge == "style":
            self._referee = self._referee or StyleReferee(self._classifier)
            style = self._referee.classify(wav)
            return STYLE_TO_SENTIMENT.get(style or ""), style or ""
        self._asr = self._asr or WhisperTranscriber(self._whisper)
        heard = self._asr.transcribe(wav)
        return self.text(heard), heard


def evaluate(config: SentimentConfig, lm=None, transcriber: Transcriber | None = None,
             referee: StyleReferee | None = None) -> BenchResult:
    check_config(config)
    lm, timer = start_benchmark(config, lm)
    judge = Judge(config, transcriber, referee)
    records = select_records(config.manifest, config.split, None if config.balanced else config.limit)
    records = balanced_records(records, config.limit) if config.balanced else records
    src, dst = config.direction[0], config.direction[2]
    budget = config.max_new_tokens or paper_max_new_tokens(config.direction)
    items = []
    for batch in progress(list(batched(records, config.batch_size)), desc=f"sentiment {config.direction}",
                          enabled=config.progress):
        prompts = [[("text", r.text)] if src == "t" else
                   [("speech", lm.speech_encoder.encode_units(record_audio(config.manifest, r)))] for r in batch]
        results = lm.generate_batch(prompts, output_modality="text" if dst == "t" else "speech",
                                    max_new_tokens=budget, seed=config.seed, synthesize=False,
                                    **sampling_kwargs(config.temperature, config.top_p))
        for rec, res in zip(batch, results):
            if dst == "t":
                pred, heard, problem = judge.text(res.text), res.text, ""
            else:
                wav, problem = speech_of(lm, res)
                pred, heard = judge.speech(wav)
            items.append({"id": rec.id, "sentiment": rec.sentiment.label, "pred": pred, "generation": heard,
                          "problem": problem})
    n = len(items)
    acc = sum(r["pred"] == r["sentiment"] for r in items) / n
    majority = Counter(r["sentiment"] for r in items).most_common(1)[0][1] / n
    metrics = {"accuracy": acc, "chance": 1 / len(SENTIMENT_LABELS), "majority_rate": majority,
               "failed": float(sum(r["pred"] is None for r in items))}
    if config.pred_file:
        write_predictions(config.pred_file, items)
    logger.info("%s sentiment on %d prompts: %.3f", config.direction, n, acc)
    return BenchResult(f"sentiment_{config.direction}", metrics, n, asdict(config), items, timer.seconds)


def write_predictions(path: str, items: list[dict]) -> Path:
    """Official STSP prediction lines: {"id", "pred", "generation"} (pred "none" when unjudged)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as f:
        for r in items:
            f.write(json.dumps({"id": r["id"], "pred": r["pred"] or "none", "generation": r["generation"]}) + "\n")
    return p


def run(config: SentimentConfig) -> dict:
    return evaluate(config).to_dict()
