"""Zero-shot likelihood benchmarks: minimal pairs (sWUGGY/sBLIMP-like) and cloze endings (tSC-like).

No generation: the LM scores two candidates and should prefer the real one ([P] §4.1, T4, T10).

* **Pairs** (`spiritlm data pairs` output): a word vs a non-word (lexical) or a grammatical vs an
  ungrammatical sentence (syntactic), in text (`[Text] the dog runs`) or speech (`[Speech] <units>`).
* **Cloze** (built here from the manifest's word timings, like the random-ending tSC): the first
  half of an utterance is the context, its own second half the true ending, the second half of
  another utterance (of the same speaker where possible) the false ending. Four directions, as in the paper:
  T (text -> text), S (speech -> speech), T2S (text context, spoken endings), S2T (spoken context,
  text endings); speech halves are cut from the audio at the word boundary. With the false ending
  from the same voice, the S choice cannot rest on the speaker (it may still on the style).

Scores: the summed log-likelihood of the candidate's tokens after the context (`raw`) and the
same divided by its token count (`token`; the paper's main table uses this). A pair scores 1, 0.5
on a tie, or 0 (`metrics.pair_score`); chance is 0.5.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from ..audio import load_audio
from ..data.corpus.manifest import Utterance, text_words
from ..data.corpus.pairs import read_pairs
from ..tokens import units_to_tokens
from .common import BenchResult, cut_audio, preset_of, progress, record_audio, select_records, start_benchmark
from .metrics import pair_accuracy
from .scoring import score_sequences

logger = logging.getLogger(__name__)

DIRECTIONS = ("T", "S", "T2S", "S2T")


@dataclass(frozen=True)
class LikelihoodConfig:
    model: str = ""
    pairs: str = ""  # pairs.jsonl (spiritlm data pairs); empty: no pair benchmark
    manifest: str = ""  # for the cloze benchmark; empty: none
    modalities: str = "T,S"  # for pairs
    directions: str = "T,S,T2S,S2T"  # for cloze
    split: str = "test"
    limit: int | None = 200
    seed: int = 0
    batch_size: int = 8
    progress: bool = True

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> LikelihoodConfig:
        return preset_of(cls, PRESETS, name, overrides)


PRESETS = {"default": LikelihoodConfig(), "tiny": LikelihoodConfig(limit=3, batch_size=4, progress=False)}


def parse_list(value: str, valid: tuple[str, ...], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in valid]
    if bad or not items:
        raise ValueError(f"unknown {what} {bad or value!r}; valid: {', '.join(valid)}")
    return items


class Segmenter:
    """Text or audio -> LM ids of one modality run (speech units computed once per waveform)."""

    def __init__(self, lm):
        self.lm = lm
        self.layout = lm.layout

    def text(self, s: str) -> list[int]:
        return self.lm.tokenizer.encode_text(s)

    def speech(self, wav) -> list[int]:
        tokens = units_to_tokens(self.lm.speech_encoder.encode_units(wav))
        if not self.lm.is_expressive:
            tokens = [t for t in tokens if t[0] == "hubert"]
        return [self.layout.unit_id(s, v) for s, v in tokens]

    def marker(self, modality: str) -> int:
        return self.layout.text_marker_id if modality == "t" else self.layout.speech_marker_id

    def head(self) -> list[int]:
        tok = self.lm.tokenizer
        return [tok.bos_id] if tok.add_bos and tok.bos_id >= 0 else []

    def sequence(self, ctx: list[int], ctx_mod: str, cand: list[int], cand_mod: str) -> tuple[list[int], int]:
        """[BOS] [ctx marker] ctx [cand marker if it switches] cand; scored from cand's first token."""
        ids = self.head() + [self.marker(ctx_mod)] + ctx + ([self.marker(cand_mod)] if cand_mod != ctx_mod else [])
        return ids + cand, len(ids)


def score_candidates(lm, seg: Segmenter, rows: list[tuple], batch_size: int) -> list[tuple[float, float, float, float]]:
    """rows of (ctx ids, ctx modality, good ids, bad ids, candidate modality) -> (good raw, bad raw,
    good token-normalised, bad token-normalised)."""
    seqs, starts = [], []
    for ctx, ctx_mod, good, bad, cand_mod in rows:
        for cand in (good, bad):
            ids, start = seg.sequence(ctx, ctx_mod, cand, cand_mod)
            seqs.append(ids)
            starts.append(start)
    scores = score_sequences(lm.model, seqs, starts, batch_size, pad_id=max(lm.tokenizer.pad_id, 0), desc="scoring")
    return [(g.logprob, b.logprob, g.mean, b.mean) for g, b in zip(scores[::2], scores[1::2])]


def accuracies(prefix: str, scored: list[tuple[float, float, float, float]]) -> dict[str, float]:
    return {f"{prefix}_acc": pair_accuracy([(s[0], s[1]) for s in scored]),
            f"{prefix}_acc_token": pair_accuracy([(s[2], s[3]) for s in scored])}


def pair_benchmark(lm, seg: Segmenter, config: LikelihoodConfig) -> tuple[dict, list[dict]]:
    pairs = read_pairs(config.pairs)[: config.limit]
    root = Path(config.pairs).parent
    metrics, items = {}, []
    for mod in parse_list(config.modalities, ("T", "S"), "pair modality"):
        by_kind: dict[str, list] = {}
        for p in progress(pairs, desc=f"pairs {mod}", enabled=config.progress):
            if mod == "T":
                good, bad, m = seg.text(p.good.text), seg.text(p.bad.text), "t"
            else:
                good, bad, m = (seg.speech(load_audio(root / p.good.audio)),
                                seg.speech(load_audio(root / p.bad.audio)), "s")
            by_kind.setdefault(p.kind, []).append((p.id, ([], m, good, bad, m)))
        for kind, rows in by_kind.items():
            scored = score_candidates(lm, seg, [r for _, r in rows], config.batch_size)
            metrics |= accuracies(f"{kind}_{mod}", scored)
            items += [{"id": i, "task": f"{kind}_{mod}", "good": s[0], "bad": s[1], "good_token": s[2],
                       "bad_token": s[3]} for (i, _), s in zip(rows, scored)]
    return metrics, items


def cloze_items(records: list[Utterance], seed: int) -> list[tuple[Utterance, Utterance, int, int]]:
    """(record, distractor, context words of record, of distractor); the distractor is another sentence
    of the same speaker where the split has one, else of any speaker."""
    rng = random.Random(seed)
    usable = [r for r in records if len(r.words) >= 4]
    out = []
    for rec in usable:
        others = [r for r in usable if r.text != rec.text]
        same = [r for r in others if r.speaker == rec.speaker]
        if others:
            other = rng.choice(same or others)
            out.append((rec, other, len(rec.words) // 2, len(other.words) // 2))
    return out


def split_record(manifest: str, rec: Utterance, k: int, seg: Segmenter) -> dict[str, list[int]]:
    """Ids of the record's first k words and of the rest, in text ("t0", "t1") and speech ("s0", "s1")."""
    words = text_words(rec.text)
    wav = record_audio(manifest, rec)
    cut = rec.words[k].start
    return {"t0": seg.text(" ".join(words[:k])), "t1": seg.text(" ".join(words[k:])),
            "s0": seg.speech(cut_audio(wav, 0.0, cut)), "s1": seg.speech(cut_audio(wav, cut))}


def cloze_benchmark(lm, seg: Segmenter, config: LikelihoodConfig) -> tuple[dict, list[dict]]:
    dirs = parse_list(config.directions, DIRECTIONS, "cloze direction")
    triples = cloze_items(select_records(config.manifest, config.split, config.limit), config.seed)
    if not triples:
        raise ValueError("no cloze items: the split needs >= 2 different sentences of >= 4 words")
    halves = []
    for rec, other, k, k2 in progress(triples, desc="cloze", enabled=config.progress):
        own, alt = split_record(config.manifest, rec, k, seg), split_record(config.manifest, other, k2, seg)
        halves.append((rec.id, own, alt))
    metrics, items = {}, []
    for d in dirs:
        cm, em = (d[0].lower(), d[-1].lower())
        rows = [(own[cm + "0"], cm, own[em + "1"], other[em + "1"], em) for _, own, other in halves]
        scored = score_candidates(lm, seg, rows, config.batch_size)
        metrics |= accuracies(f"cloze_{d}", scored)
        items += [{"id": i, "task": f"cloze_{d}", "good": s[0], "bad": s[1], "good_token": s[2], "bad_token": s[3]}
                  for (i, _, _), s in zip(halves, scored)]
    return metrics, items


def evaluate(config: LikelihoodConfig, lm=None) -> BenchResult:
    if not config.pairs and not config.manifest:
        raise ValueError("the likelihood benchmark needs --pairs PATH (pairs.jsonl) and/or --manifest PATH (cloze)")
    lm, timer = start_benchmark(config, lm, required=())
    seg = Segmenter(lm)
    metrics, items = {}, []
    for enabled, bench in ((config.pairs, pair_benchmark), (config.manifest, cloze_benchmark)):
        if enabled:
            m, rows = bench(lm, seg, config)
            metrics |= m
            items += rows
    logger.info("likelihood: %s", ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    return BenchResult("likelihood", metrics, len(items), asdict(config), items, timer.seconds)


def run(config: LikelihoodConfig) -> dict:
    return evaluate(config).to_dict()
