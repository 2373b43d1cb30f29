"""Training data: a seeded mixture of sequence kinds, packed into fixed-length rows.

Each draw picks a kind with the configured weights (paper: one third each of text-only, speech-only
and interleaved), then the next item of that kind's pool (a fresh permutation every epoch of the
pool), and builds its ids with `spiritlm.data.interleave` (spans re-sampled on every draw)::

    draw 0: interleaved utt 17  <s>[Text]the cat[Speech][Hu7]...</s>
    draw 1: text        line 3  <s>[Text]a wet day</s>
    draw 2: speech      utt 5   <s>[Speech][Hu12][Hu4]...</s>

With ``packing`` the documents are concatenated and cut into rows of ``seq_len`` ids (a document
continues in the next row); without it each row is one document, truncated, padded with the pad id
and masked out of the loss. A row's loss mask says which positions are targets.

Everything is a function of (seed, draw number, per-kind counts), so the stream is the same in every
process and `state_dict()` (a few integers) resumes it exactly mid-epoch: the trainer stores it in its
checkpoints, and ranks of a distributed job each take their slice of the same global batch.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..units import SpeechUnits
from .interleave import (
    AlignedUtterance,
    SpanConfig,
    WordTiming,
    interleaved,
    parallel,
    segments_to_ids,
    speech_only,
    text_only,
)

logger = logging.getLogger(__name__)

KINDS = ("text", "speech", "interleaved", "asr", "tts")
PAPER_WEIGHTS = {"text": 1 / 3, "speech": 1 / 3, "interleaved": 1 / 3}


@dataclass(frozen=True)
class Batch:
    input_ids: object  # torch.LongTensor [B, L]
    loss_mask: object  # torch.BoolTensor [B, L]: position t is a target (predicted from t - 1)

    @property
    def n_targets(self) -> int:
        return int(self.loss_mask[:, 1:].sum())


def check_weights(weights: dict[str, float]) -> dict[str, float]:
    unknown = set(weights) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown data kinds {sorted(unknown)}; valid: {', '.join(KINDS)}")
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"mixture weights must be non-negative with a positive sum, got {weights}")
    return {k: float(w) for k, w in weights.items() if w > 0}


# ------------------------------------------------------------------------------------- pools


def utterance_from_record(record: dict, cache, hubert_only: bool = False) -> AlignedUtterance:
    words = tuple(WordTiming(str(w["word"]), float(w["start"]), float(w["end"])) for w in record.get("words") or ())
    units = cache[str(record["id"])]
    if hubert_only and units.is_expressive:
        units = SpeechUnits(units.hubert)
    return AlignedUtterance(str(record.get("text", "")), words, units, id=str(record["id"]))


def load_pools(manifest: str | Path | None, cache, split: str | None = None,
               text_files: Sequence[str | Path] = (), hubert_only: bool = False) -> dict[str, list]:
    """Items per kind: "text" -> strings; the other kinds -> `AlignedUtterance`s with cached units.

    `hubert_only` drops pitch and style (a Base model trained from an Expressive unit cache)."""
    from .unit_cache import read_manifest

    records = read_manifest(manifest) if manifest else []
    if split is not None:
        records = [r for r in records if r.get("split") == split]
    texts = [str(r["text"]) for r in records if str(r.get("text", "")).strip()]
    for f in text_files:
        texts += [line.strip() for line in Path(f).read_text(encoding="utf-8").splitlines() if line.strip()]
    cached = [r for r in records if cache is not None and str(r["id"]) in cache]
    utts = [utterance_from_record(r, cache, hubert_only) for r in cached]
    if cache is not None and len(utts) < len(records):
        logger.warning("%d of %d records have no units in the cache; they are used as text only",
                       len(records) - len(utts), len(records))
    aligned = [u for u in utts if u.words]
    return {"text": texts, "speech": utts, "interleaved": aligned, "asr": utts, "tts": utts}


class DocumentBuilder:
    """(kind, item, rng) -> LM ids of one document, BOS first and EOS last."""

    def __init__(self, tokenizer, layout, spans: SpanConfig | None = None):
        self.tokenizer, self.layout, self.spans = tokenizer, layout, spans or SpanConfig()

    def segments(self, kind: str, item, rng: random.Random):
        if kind == "text":
            return text_only(item if isinstance(item, str) else item.text)
        if kind == "speech":
            return speech_only(item.units)
        if kind == "interleaved":
            return interleaved(item, rng, self.spans)
        if kind in ("asr", "tts"):
            return parallel(item, kind)
        raise ValueError(f"unknown data kind {kind!r}; valid: {', '.join(KINDS)}")

    def __call__(self, kind: str, item, rng: random.Random) -> list[int]:
        return segments_to_ids(self.segments(kind, item, rng), self.tokenizer, self.layout)


# ------------------------------------------------------------------------------------- stream


class PackedMixture:
    """Deterministic, resumable stream of rows drawn from a weighted mixture of kinds."""

    def __init__(self, pools: dict[str, list], builder: DocumentBuilder, weights: dict[str, float],
                 seq_len: int, seed: int = 0, packing: bool = True, pad_id: int = 0):
        self.weights = check_weights(weights)
        empty = [k for k in self.weights if not pools.get(k)]
        if empty:
            raise ValueError(f"no data for kinds {empty} (weights {self.weights}); give a manifest with units "
                             "and alignments, or text files, or set their weights to 0")
        if seq_len < 2:
            raise ValueError(f"seq_len must be >= 2, got {seq_len}")
        self.pools, self.builder, self.seq_len, self.seed = pools, builder, seq_len, seed
        self.packing, self.pad_id = packing, pad_id
        self.kinds = sorted(self.weights)
        self._perms: dict[tuple[str, int], np.ndarray] = {}
        self._fixed: dict[tuple[str, int], list[int]] = {}  # documents that use no randomness
        self._next_draw, self._counts = 0, dict.fromkeys(self.kinds, 0)
        self._doc: list[int] = []
        self._doc_draw, self._doc_counts, self._offset = 0, dict(self._counts), 0

    def _item(self, kind: str, count: int):
        pool = self.pools[kind]
        epoch, pos = divmod(count, len(pool))
        key = (kind, epoch)
        if key not in self._perms:
            self._perms = {k: v for k, v in self._perms.items() if k[0] != kind}
            self._perms[key] = np.random.default_rng([self.seed, KINDS.index(kind), epoch]).permutation(len(pool))
        return int(self._perms[key][pos])

    def _draw(self) -> None:
        rng = random.Random(self.seed * 1_000_003 + self._next_draw)
        kind = rng.choices(self.kinds, [self.weights[k] for k in self.kinds])[0]
        self._doc_draw, self._doc_counts = self._next_draw, dict(self._counts)
        index = self._item(kind, self._counts[kind])
        if kind == "interleaved":
            self._doc = self.builder(kind, self.pools[kind][index], rng)
        else:
            if (kind, index) not in self._fixed:
                self._fixed[(kind, index)] = self.builder(kind, self.pools[kind][index], rng)
            self._doc = self._fixed[(kind, index)]
        self._counts[kind] += 1
        self._next_draw += 1
        self._offset = 0

    def next_row(self) -> tuple[np.ndarray, np.ndarray]:
        """ids [L] int64 and loss mask [L] bool of the next row."""
        row = np.full(self.seq_len, self.pad_id, dtype=np.int64)  # [L]
        mask = np.zeros(self.seq_len, dtype=bool)  # [L]
        if not self.packing:
            self._draw()
            doc = self._doc[:self.seq_len]
            row[:len(doc)], mask[:len(doc)] = doc, True
            self._offset = len(self._doc)
            return row, mask
        filled = 0
        while filled < self.seq_len:
            if self._offset >= len(self._doc):
                self._draw()
            take = min(self.seq_len - filled, len(self._doc) - self._offset)
            row[filled:filled + take] = self._doc[self._offset:self._offset + take]
            filled += take
            self._offset += take
        mask[:] = True
        return row, mask

    def next_batch(self, n_rows: int, keep: slice | None = None) -> Batch:
        """The next `n_rows` rows of the stream (all ranks draw them); `keep` selects this rank's."""
        import torch

        rows = [self.next_row() for _ in range(n_rows)]
        rows = rows[keep] if keep is not None else rows
        ids = torch.from_numpy(np.stack([r for r, _ in rows]))  # [B, L]
        mask = torch.from_numpy(np.stack([m for _, m in rows]))  # [B, L]
        return Batch(ids, mask)

    def state_dict(self) -> dict:
        return {"doc_draw": self._doc_draw, "doc_counts": dict(self._doc_counts), "offset": self._offset,
                "started": self._next_draw > 0, "seed": self.seed, "weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        if state["seed"] != self.seed or state["weights"] != self.weights:
            raise ValueError(f"data state was saved with seed {state['seed']} and weights {state['weights']}, "
                             f"this run has seed {self.seed} and weights {self.weights}")
        self._next_draw, self._counts = state["doc_draw"], dict(state["doc_counts"])
        self._doc, self._offset = [], 0
        if state["started"]:
            self._draw()
            self._offset = state["offset"]


def eval_batches(pools: dict[str, list], builder: DocumentBuilder, kind: str, n_rows: int, seq_len: int,
                 batch_size: int, seed: int = 1234, pad_id: int = 0) -> list[Batch]:
    """A fixed evaluation set of one kind (same rows every time it is made)."""
    stream = PackedMixture(pools, builder, {kind: 1.0}, seq_len, seed=seed, pad_id=pad_id)
    sizes = [min(batch_size, n_rows - i) for i in range(0, n_rows, batch_size)]
    return [stream.next_batch(n) for n in sizes]
