"""`spiritlm eval paper`: find the releases under a data root, score them as the paper does, resume.

Benchmarks and where they are looked for under the root R (first match wins):

=========  =====================================================  ==================================
name       folder                                                 scored as
=========  =====================================================  ==================================
swuggy     R/{zerospeech2021,sLM21,.}/lexical/<split>/gold.csv     T and S pairs, `zerospeech` rules
sblimp     R/{zerospeech2021,sLM21,.}/syntactic/<split>/gold.csv   T and S pairs, by type
tsc, ssc   R/storycloze/{tSC,sSC}/ + {tSC,sSC}.csv                 T, S, T2S, S2T endings
mmlu       R/mmlu/data/{dev,test}/                                 5-shot, letter with the best LL
intent     R/fluent_speech_commands_dataset/data/                  30-shot greedy text, exact match
ls-*-asr   R/LibriSpeech/test-{clean,other}/                      10-shot greedy ASR (<= 1024), %WER
=========  =====================================================  ==================================

ASR shots come from `R/LibriSpeech/train-clean-100` when present, else from the same subset (the
query itself never among them); the shortest are taken so that the prompt fits the paper's 1024
tokens ([P] App. B).

Every scored item is appended to `<out>/items/<benchmark>.jsonl` as soon as its batch is done; a
re-run reads those files and scores only what is missing, so an interrupted run resumes (the
finished items are not redone; `--fresh` starts over). The results go to `<out>/results.json`,
`<out>/report.md` and `<out>/directions.svg` (`tables`).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from ...audio import load_audio
from ..common import load_spiritlm, progress
from ..likelihood import Segmenter
from ..metrics import pair_score
from . import releases, zerospeech
from .batched import score_choices_shared

logger = logging.getLogger(__name__)

BENCHMARKS = ("swuggy", "sblimp", "tsc", "ssc", "mmlu", "intent", "ls-clean-asr", "ls-other-asr")
DIRECTIONS = ("T", "S", "T2S", "S2T")


@dataclass(frozen=True)
class PaperConfig:
    model: str
    data_root: str
    out: str
    only: str = ""  # comma-separated subset of BENCHMARKS; empty: all found
    split: str = "dev"  # sLM21 split (test gold is not public)
    limit: int | None = None  # items per benchmark (None: all)
    batch_size: int = 8
    intent_shots: int = 30
    mmlu_shots: int = 5
    asr_shots: int = 10
    asr_context: int = 1024
    asr_max_new: int = 60
    seed: int = 0
    progress: bool = True
    fresh: bool = False


def _first(*paths: Path) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def detect(root: str | Path, split: str = "dev") -> dict[str, Path]:
    """name -> folder of every benchmark release present under `root`."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data root {root} is not a folder")
    found: dict[str, Path] = {}
    for name, task in (("swuggy", "lexical"), ("sblimp", "syntactic")):
        hit = _first(*(r / task / split / "gold.csv" for r in (root / "zerospeech2021", root / "sLM21", root)))
        if hit:
            found[name] = hit.parents[2]
    for kind in releases.SC_KINDS:
        if (root / "storycloze" / f"{kind}.csv").is_file():
            found[kind.lower()] = root / "storycloze"
    hit = _first(root / "mmlu" / "data" / "test", root / "mmlu" / "test")
    if hit:
        found["mmlu"] = hit.parent
    if (root / "fluent_speech_commands_dataset" / "data" / "test_data.csv").is_file():
        found["intent"] = root / "fluent_speech_commands_dataset"
    for sub in ("clean", "other"):
        if (root / "LibriSpeech" / f"test-{sub}").is_dir():
            found[f"ls-{sub}-asr"] = root / "LibriSpeech"
    return found


class ItemCache:
    """Append-only JSONL of finished items, keyed by `key`."""

    def __init__(self, path: Path, fresh: bool = False):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        self.rows: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.rows[row["key"]] = row

    def add(self, rows: list[dict]) -> None:
        with open(self.path, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
                self.rows[r["key"]] = r


class Runner:
    def __init__(self, config: PaperConfig, lm=None):
        self.config = config
        self.lm = lm or load_spiritlm(config.model)
        self.seg = Segmenter(self.lm)
        self.out = Path(config.out)
        self._speech: dict[Path, list[int]] = {}
        self._story: dict[str, tuple] = {}

    def speech(self, path: Path) -> list[int]:
        if path not in self._speech:
            self._speech[path] = self.seg.speech(load_audio(path))
        return self._speech[path]

    def head(self, mod: str) -> list[int]:
        return self.seg.head() + [self.seg.marker(mod)]

    def choices(self, name: str, keyed: list[tuple[str, object]], build) -> dict[str, dict]:
        """Score the (key, item) list not in the cache yet; `build(item) -> (ctx, [good, bad])`."""
        cache = ItemCache(self.out / "items" / f"{name}.jsonl", self.config.fresh)
        todo = [(k, it) for k, it in keyed if k not in cache.rows]
        bs = self.config.batch_size
        for b in progress(range(0, len(todo), bs), total=-(-len(todo) // bs), desc=name,
                          enabled=self.config.progress):
            chunk = todo[b:b + bs]
            built = [build(it) for _, it in chunk]
            scores = score_choices_shared(self.lm.model, built, bs, pad_id=max(self.lm.tokenizer.pad_id, 0))
            cache.add([{"key": k, "good": s[0].logprob, "bad": s[1].logprob, "good_n": s[0].n_tokens,
                        "bad_n": s[1].n_tokens} for (k, _), s in zip(chunk, scores)])
        return {k: cache.rows[k] for k, _ in keyed}

    # ---- sLM21 ----
    def zerospeech(self, name: str, root: Path) -> dict:
        task = "lexical" if name == "swuggy" else "syntactic"
        folder = root / task / self.config.split
        pairs = releases.load_zerospeech(root, task, self.config.split)
        keys = list(dict.fromkeys(p.key for p in pairs))[: self.config.limit]
        pairs = [p for p in pairs if p.key in set(keys)]
        text_pairs = []  # the text version: one row per pair (its first voice's)
        for p in pairs:
            if p.key not in {q.key for q in text_pairs}:
                text_pairs.append(p)
        out = {}
        for mod, use in (("T", text_pairs), ("S", pairs)):
            def build(p, mod=mod):
                if mod == "T":
                    return self.head("t"), [self.seg.text(p.good_text), self.seg.text(p.bad_text)]
                return self.head("s"), [self.speech(folder / p.good_file), self.speech(folder / p.bad_file)]
            rows = self.choices(f"{name}_{mod}", [(f"{p.key}|{p.voice}", p) for p in use], build)
            out[mod] = self._zr_summary(task, use, rows)
        return out

    @staticmethod
    def _zr_summary(task: str, pairs, rows: dict) -> dict:
        res = {}
        for norm in ("raw", "token"):
            g, b = [], []
            for p in pairs:
                r = rows[f"{p.key}|{p.voice}"]
                g.append(r["good"] / (r["good_n"] if norm == "token" else 1))
                b.append(r["bad"] / (r["bad_n"] if norm == "token" else 1))
            per = zerospeech.by_pair(pairs, g, b)
            res[norm] = (zerospeech.lexical_summary if task == "lexical" else zerospeech.syntactic_summary)(per)
        res["n_pairs"] = len({p.key for p in pairs})
        return res

    # ---- StoryCloze ----
    def storycloze(self, name: str, root: Path) -> dict:
        kind = "tSC" if name == "tsc" else "sSC"
        stories = releases.load_storycloze(root, kind)[: self.config.limit]
        out = {}
        for d in DIRECTIONS:
            rows = self.choices(f"{name}_{d}", [(s.id, s) for s in stories],
                                lambda s, d=d: self._story_choice(root, s, d))
            out[d] = _accuracies([rows[s.id] for s in stories]) | {"n": len(stories)}
        return out

    def _story_choice(self, root: Path, s: releases.Story, d: str):
        """Context and endings of one story in direction d; the spoken context is the waveform prefix the two
        recordings share (`shared_prefix`); without one, S scores the whole recordings (the release's protocol)."""
        t, sp = self.seg.marker("t"), self.seg.marker("s")
        if d == "T":
            return self.head("t") + self.seg.text(s.context), [self.seg.text(s.good), self.seg.text(s.bad)]
        ctx, good, bad = self.story_speech(root, s)
        if d == "S":
            return self.head("s") + ctx, [good, bad]
        if d == "T2S":
            return self.head("t") + self.seg.text(s.context) + [sp], [good, bad]
        return self.head("s") + ctx + [t], [self.seg.text(s.good), self.seg.text(s.bad)]

    def story_speech(self, root: Path, s: releases.Story) -> tuple[list[int], list[int], list[int]]:
        """(context units, true-ending units, false-ending units), each waveform part encoded on its own."""
        if s.id not in self._story:
            a, b = load_audio(root / s.good_wav), load_audio(root / s.bad_wav)
            n = shared_prefix(a, b)
            self._story[s.id] = ((self.seg.speech(a[:n]), self.seg.speech(a[n:]), self.seg.speech(b[n:])) if n
                                 else ([], self.seg.speech(a), self.seg.speech(b)))
        return self._story[s.id]

    # ---- MMLU ----
    def mmlu(self, name: str, root: Path) -> dict:
        from .fewshot_text import mmlu_choices

        dev, test = releases.load_mmlu(root, "dev"), releases.load_mmlu(root, "test")
        items = [(f"{q.subject}|{i}", q) for subj in sorted(test) for i, q in enumerate(test[subj])]
        items = items[: self.config.limit]
        cache = ItemCache(self.out / "items" / f"{name}.jsonl", self.config.fresh)
        todo = [(k, q) for k, q in items if k not in cache.rows]
        for k, q in progress(todo, desc=name, enabled=self.config.progress):
            ctx, cands = mmlu_choices(self.seg, dev.get(q.subject, [])[: self.config.mmlu_shots], q)
            scores = score_choices_shared(self.lm.model, [(ctx, cands)], 1, max(self.lm.tokenizer.pad_id, 0))[0]
            pred = "ABCD"[max(range(4), key=lambda i: scores[i].logprob)]
            cache.add([{"key": k, "pred": pred, "answer": q.answer}])
        correct = [cache.rows[k]["pred"] == cache.rows[k]["answer"] for k, _ in items]
        return {"acc": sum(correct) / len(correct), "n": len(correct)}

    # ---- intent ----
    def intent(self, name: str, root: Path) -> dict:
        from .fewshot_text import intent_predict

        train, test = releases.load_intent(root, "train"), releases.load_intent(root, "test")[: self.config.limit]
        k = min(self.config.intent_shots, len(train))
        shots = random.Random(self.config.seed).sample(train, k)
        shot_ids = [(self.speech(root / s.wav), s.label) for s in shots]
        cache = ItemCache(self.out / "items" / f"{name}.jsonl", self.config.fresh)
        for it in progress([t for t in test if t.id not in cache.rows], desc=name, enabled=self.config.progress):
            pred = intent_predict(self.lm, self.seg, shot_ids, self.speech(root / it.wav))
            cache.add([{"key": it.id, "pred": pred, "label": it.label}])
        rows = [cache.rows[t.id] for t in test]
        return {"acc": sum(r["pred"] == r["label"] for r in rows) / len(rows), "n": len(rows), "shots": k}


def librispeech_asr(runner: Runner, name: str, root: Path) -> dict:
    """10-shot ASR with the paper's flags (`eval.fewshot.asr_inputs`), greedy, corpus %WER."""
    from ..fewshot import Shot, asr_inputs, cut_transcript
    from ..metrics import error_rate

    cfg, lm = runner.config, runner.lm
    subset = "test-clean" if "clean" in name else "test-other"
    test = releases.load_librispeech(root, subset)[: cfg.limit]
    pool_name = "train-clean-100" if (root / "train-clean-100").is_dir() else subset
    pool = releases.load_librispeech(root, pool_name)
    pool = sorted(pool, key=lambda u: (len(u.text), u.id))
    cache = ItemCache(runner.out / "items" / f"{name}.jsonl", cfg.fresh)
    units: dict[str, object] = {}

    def enc(u):
        if u.id not in units:
            units[u.id] = lm.speech_encoder.encode_units(load_audio(u.audio))
        return units[u.id]

    n_shots = []
    for u in progress([t for t in test if t.id not in cache.rows], desc=name, enabled=cfg.progress):
        shots: list = []
        for cand in (c for c in pool if c.id != u.id):
            trial = shots + [Shot(cand.text.lower(), enc(cand))]
            if len(trial) > cfg.asr_shots or len(lm.build_prompt(asr_inputs(trial, enc(u)), "text").ids) + \
                    cfg.asr_max_new > cfg.asr_context:
                break
            shots = trial
        res = lm.generate_batch([asr_inputs(shots, enc(u))], output_modality="text", max_new_tokens=cfg.asr_max_new,
                                seed=cfg.seed, synthesize=False, do_sample=False)[0]
        cache.add([{"key": u.id, "text": u.text.lower(), "transcript": cut_transcript(res.text), "shots": len(shots)}])
    rows = [cache.rows[t.id] for t in test]
    n_shots = [r["shots"] for r in rows]
    wer = error_rate([r["text"] for r in rows], [r["transcript"] for r in rows], "word")
    return {"wer": wer.rate, "n": len(rows), "shots_min": min(n_shots), "shots_max": max(n_shots)}


def shared_prefix(a, b, tol: float = 1e-4, frame: int = 640, min_samples: int = 8000) -> int:
    """Samples the two waveforms share (|a - b| <= tol), rounded down to a 40 ms unit frame; 0 when
    under `min_samples` (0.5 s) or when one is all prefix (no ending left to score)."""
    import numpy as np

    m = min(len(a), len(b))
    diff = np.flatnonzero(np.abs(a[:m] - b[:m]) > tol)
    n = (int(diff[0]) if len(diff) else m) // frame * frame
    return n if n >= min_samples and n < m else 0


def _accuracies(rows: list[dict]) -> dict[str, float]:
    n = len(rows)
    return {"raw": sum(pair_score(r["good"], r["bad"]) for r in rows) / n,
            "token": sum(pair_score(r["good"] / r["good_n"], r["bad"] / r["bad_n"]) for r in rows) / n}


def run_paper(config: PaperConfig, lm=None) -> dict:
    """Score every benchmark found (or `config.only`), write results.json / report.md / plot; return the results."""
    from .tables import write_report

    found = detect(config.data_root, config.split)
    wanted = [w.strip() for w in config.only.split(",") if w.strip()] or list(BENCHMARKS)
    bad = [w for w in wanted if w not in BENCHMARKS]
    if bad:
        raise ValueError(f"unknown benchmark {bad}; valid: {', '.join(BENCHMARKS)}")
    todo = [w for w in wanted if w in found]
    if not todo:
        raise FileNotFoundError(f"none of {', '.join(wanted)} found under {config.data_root} "
                                f"(see `spiritlm.eval.paper.runner` for the expected folders)")
    runner = Runner(config, lm)
    results = {"model": config.model, "data_root": str(config.data_root), "split": config.split,
               "limit": config.limit, "benchmarks": {}}
    for name in todo:
        logger.info("paper eval: %s (%s)", name, found[name])
        method = {"swuggy": runner.zerospeech, "sblimp": runner.zerospeech, "tsc": runner.storycloze,
                  "ssc": runner.storycloze, "mmlu": runner.mmlu, "intent": runner.intent,
                  "ls-clean-asr": lambda n, r: librispeech_asr(runner, n, r),
                  "ls-other-asr": lambda n, r: librispeech_asr(runner, n, r)}[name]
        results["benchmarks"][name] = method(name, found[name])
    write_report(results, Path(config.out))
    return results
