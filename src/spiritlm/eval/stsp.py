"""The official STSP file formats and scorer, usable on our own data (official-release.md §10).

Speech-text sentiment preservation is scored from two JSON Lines files:

* reference (one record per prompt): ``{"emotion", "sentiment", "wav_path", "split", "speaker", "id"}``
  (text datasets add ``"asr"``, the prompt's text);
* predictions: ``{"id", "pred"[, "generation"]}``, where ``pred`` is the classified label of the
  continuation.

The official scorer requires as many prediction lines as reference lines, matches them on
``str(id)``, compares ``pred`` with the reference's ``label`` field (``sentiment`` by default; a
reference without ``sentiment`` maps its ``emotion`` through the Expresso/EMOV map: happy, amused ->
positive; sad, angry -> negative; neutral, default -> neutral) and prints::

    Accuracy: 40.00% for predictions from pred.jsonl

A reference id with no prediction is reported and left out of the denominator, as the official
code does. `write_reference` turns a corpus manifest split into a reference file (emotion = the
corpus style), and `sentiment.py` writes matching predictions (`pred_file=`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .common import BenchResult, Timer, select_records

logger = logging.getLogger(__name__)

EMOTION_TO_SENTIMENT = {"happy": "positive", "amused": "positive", "angry": "negative", "sad": "negative",
                        "neutral": "neutral", "default": "neutral"}
LABELS = ("sentiment", "emotion")


@dataclass(frozen=True)
class StspConfig:
    ref: str = ""
    pred: str = ""
    label: str = "sentiment"

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> StspConfig:
        from .common import preset_of

        return preset_of(cls, {"default": cls(), "tiny": cls()}, name, overrides)


@dataclass(frozen=True)
class StspScore:
    correct: int
    scored: int
    unmatched: tuple[str, ...]  # reference ids with no prediction

    @property
    def accuracy(self) -> float:
        return self.correct / self.scored if self.scored else 0.0

    def line(self, pred_file: str | os.PathLike) -> str:
        """The official print."""
        return f"Accuracy: {self.accuracy * 100:0.2f}% for predictions from {pred_file}"


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"STSP file not found: {p}")
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def reference_label(ref: dict, label: str) -> str:
    if label in ref:
        return ref[label]
    if label == "sentiment" and ref.get("emotion") in EMOTION_TO_SENTIMENT:
        return EMOTION_TO_SENTIMENT[ref["emotion"]]
    raise ValueError(f"reference {ref.get('id')!r} has no {label!r} (and no mappable emotion): {ref}")


def score(ref_file: str | os.PathLike, pred_file: str | os.PathLike, label: str = "sentiment") -> StspScore:
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; valid: {', '.join(LABELS)}")
    refs, preds = read_jsonl(ref_file), read_jsonl(pred_file)
    if len(refs) != len(preds):
        raise ValueError(f"mismatch between prediction ({len(preds)} samples in {pred_file}) and reference "
                         f"({len(refs)} in {ref_file})")
    by_id = {str(p["id"]): p["pred"] for p in preds}
    if len(by_id) != len(preds):
        raise ValueError(f"{pred_file} repeats ids: {len(preds)} lines but {len(by_id)} distinct ids")
    correct, scored, unmatched = 0, 0, []
    for ref in refs:
        key = str(ref["id"])
        if key not in by_id:
            logger.error("reference id %s has no prediction in %s", key, pred_file)
            unmatched.append(key)
            continue
        scored += 1
        correct += by_id[key] == reference_label(ref, label)
    return StspScore(correct, scored, tuple(unmatched))


def write_reference(manifest: str | os.PathLike, out: str | os.PathLike, split: str = "test",
                    limit: int | None = None) -> Path:
    """A manifest split as an official STSP reference file (wav paths absolute, text as `asr`)."""
    root = Path(manifest).resolve().parent
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for r in select_records(manifest, split, limit):
            f.write(json.dumps({"emotion": r.style, "sentiment": r.sentiment.label, "wav_path": str(root / r.audio),
                                "split": r.split, "speaker": r.speaker, "id": r.id, "asr": r.text}) + "\n")
    return out


def evaluate(config: StspConfig) -> BenchResult:
    if not config.ref or not config.pred:
        raise ValueError("STSP scoring needs --ref REF.jsonl and --pred PRED.jsonl")
    timer = Timer()
    s = score(config.ref, config.pred, config.label)
    logger.info(s.line(config.pred))
    metrics = {"accuracy": s.accuracy, "scored": float(s.scored), "unmatched": float(len(s.unmatched))}
    return BenchResult("stsp", metrics, s.scored, asdict(config), [{"unmatched": list(s.unmatched)}], timer.seconds)


def run(config: StspConfig) -> dict:
    return evaluate(config).to_dict()
