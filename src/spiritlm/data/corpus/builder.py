"""Build the corpus: run the plan on parallel workers, write wavs, append manifest lines; resumable.

    from spiritlm.data.corpus import BuildConfig, build_corpus
    result = build_corpus(get_preset("tiny"), "data/corpus-tiny")   # ~1 minute of espeak speech

Output folder: `manifest.jsonl` (see `manifest`), `wav/<xx>/<id>.wav` (16 kHz mono PCM16), `build.json` (the
config and the speakers found; a resume with a different config is refused).

Safety: a worker writes its wav atomically (`audio.write_audio`), and only then does the main process
append the record, with one fsynced line. A crash or Ctrl-C leaves at most wavs without lines, never a
line without its wav; the next run reads the manifest, skips the jobs already done and continues. Jobs are
collected in plan order, so the corpus is the same whatever the number of workers. A text the engine
cannot speak is logged and skipped; a full disk or a crashed worker stops the build with a message.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ...audio import AudioError, write_audio
from .engines import ENGINES, engine_class, find_engines, make_engine
from .engines.base import EngineError
from .manifest import ManifestWriter, Utterance, read_manifest
from .plan import Job, plan_jobs
from .sentiment import SentimentScorer
from .styles import STYLES, get_style
from .texts import Sentence, load_sentences

logger = logging.getLogger(__name__)
MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class BuildConfig:
    name: str = "custom"
    hours: float = 1.0  # stop once this much audio is in the manifest
    seed: int = 0
    engines: tuple[str, ...] = ("espeak", "flite", "festival", "piper")
    sources: tuple[str, ...] = ("fortunes", "wordnet", "bible")
    min_words: int = 4
    max_words: int = 30
    styles: tuple[str, ...] = tuple(STYLES)
    expresso_fraction: float = 0.25
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    held_out_speakers: tuple[str, ...] = ("espeak-en-029-m7", "flite-rms", "festival-ked-diphone")
    engine_weights: dict[str, float] = field(default_factory=lambda: {"espeak": 1.0, "flite": 1.0,
                                                                      "festival": 0.4, "piper": 0.2})
    voices_per_sentence: int = 1
    workers: int = 2

    def __post_init__(self) -> None:
        for s in self.styles:
            get_style(s)
        unknown = [e for e in self.engines if e not in ENGINES]
        if unknown:
            raise ValueError(f"unknown TTS engines {unknown}; valid engines: {', '.join(ENGINES)}")
        if not 0 <= self.valid_fraction + self.test_fraction < 1:
            raise ValueError("valid_fraction + test_fraction must be in [0, 1)")
        if self.hours <= 0 or self.workers < 0:
            raise ValueError("hours must be positive and workers >= 0")


PRESETS = {
    "tiny": BuildConfig("tiny", hours=1 / 60, engines=("espeak",), sources=("wordnet",), workers=0,
                        held_out_speakers=("espeak-en-029-m7",), valid_fraction=0.2, test_fraction=0.2),
    "small": BuildConfig("small", hours=1.0),
    "mini": BuildConfig("mini", hours=10.0),
    "30h": BuildConfig("30h", hours=30.0),
}


def get_preset(name: str) -> BuildConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown corpus preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name]


@dataclass(frozen=True)
class BuildResult:
    manifest: Path
    records: int  # lines in the manifest now
    hours: float
    added: int  # records added by this run
    skipped: int  # jobs that failed and were skipped
    engines: tuple[str, ...]


# --- worker side: one set of engines per process -------------------------------------------------
_ENGINES: dict = {}


def _forget_engines() -> None:
    """Worker start: engines copied from a parent by fork (a festival pipe, espeak state) are not ours to use."""
    _ENGINES.clear()


def _start_engine(name: str):
    """Create this process's engine; it is closed (its helper processes ended) when the worker exits."""
    from multiprocessing.util import Finalize

    engine = _ENGINES[name] = make_engine(name)
    if hasattr(engine, "close"):
        Finalize(engine, engine.close, exitpriority=10)
    return engine


def _synthesize(job: Job, out_dir: str) -> Utterance | str:
    """Speak one job and write its wav; returns the record, or an error message to log and skip."""
    try:
        engine = _ENGINES.get(job.voice.engine) or _start_engine(job.voice.engine)
        syn = engine.synthesize(job.sentence.text, job.voice, get_style(job.style))
    except (EngineError, AudioError) as e:
        return f"{job.id}: {e}"
    rel = f"wav/{job.sentence.id[1:3]}/{job.id}.wav"
    write_audio(Path(out_dir) / rel, syn.wav)  # OSError (disk full) propagates and stops the build
    return Utterance(job.id, rel, job.sentence.text, syn.words, syn.phonemes, job.voice.speaker, job.voice.engine,
                     job.style, job.sentiment, round(syn.duration, 4), job.split, job.sentence.id,
                     job.sentence.source, job.expresso)


# --- main side ------------------------------------------------------------------------------------
def _config_json(cfg: BuildConfig, engines: list[str]) -> dict:
    d = asdict(cfg)
    d.pop("workers")
    d.pop("hours")  # a bigger target may extend a corpus
    return {"config": d, "engines": engines}


def _check_resume(out: Path, cfg: BuildConfig, engines: list[str]) -> None:
    meta_path = out / "build.json"
    meta = json.loads(json.dumps(_config_json(cfg, engines)))
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if old != meta:
            raise ValueError(f"{out} holds a corpus built with another config or other engines ({old}); "
                             "use a new output folder or the same settings")
    else:
        out.mkdir(parents=True, exist_ok=True)
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")


def build_corpus(cfg: BuildConfig, out_dir: str | os.PathLike, sentences: list[Sentence] | None = None,
                 progress: bool = True) -> BuildResult:
    """Build (or continue building) the corpus of `cfg` in `out_dir`."""
    from tqdm import tqdm

    out = Path(out_dir)
    engines = find_engines(cfg.engines)
    if not engines:
        raise ValueError(f"none of the TTS engines {cfg.engines} is installed (run `make corpus-deps`)")
    logger.info("TTS engines found: %s", ", ".join(engines))
    _check_resume(out, cfg, engines)
    done = {r.id: r.duration for r in read_manifest(out / MANIFEST)} if (out / MANIFEST).is_file() else {}
    total, target = sum(done.values()), cfg.hours * 3600
    if total >= target:
        logger.info("%s already holds %.2f h (target %.2f h): nothing to do", out, total / 3600, cfg.hours)
        return BuildResult(out / MANIFEST, len(done), total / 3600, 0, 0, tuple(engines))
    if sentences is None:
        sentences = load_sentences(cfg.sources, cfg.min_words, cfg.max_words, cfg.seed)
    classes = {e: engine_class(e) for e in engines}
    voices = [v for e in engines for v in classes[e].voices()]
    logger.info("%d speakers: %s", len(voices), ", ".join(v.speaker for v in voices))
    jobs = (j for j in plan_jobs(sentences, voices, classes, SentimentScorer(), seed=cfg.seed, styles=cfg.styles,
                                 held_out=cfg.held_out_speakers, valid=cfg.valid_fraction, test=cfg.test_fraction,
                                 expresso_fraction=cfg.expresso_fraction, engine_weights=cfg.engine_weights,
                                 voices_per_sentence=cfg.voices_per_sentence) if j.id not in done)
    bar = tqdm(total=round(target), initial=round(total), unit="s audio", disable=not progress, desc="synth")
    with ManifestWriter(out / MANIFEST) as writer:
        added, skipped, total = _run(cfg, jobs, str(out), writer, total, target, bar)
    bar.close()
    n = len(done) + added
    logger.info("corpus %s: %d utterances, %.3f h (%d added, %d skipped)", out, n, total / 3600, added, skipped)
    return BuildResult(out / MANIFEST, n, total / 3600, added, skipped, tuple(engines))


def _run(cfg, jobs, out: str, writer: ManifestWriter, total: float, target: float, bar) -> tuple[int, int, float]:
    added = skipped = 0

    def take(result) -> None:
        nonlocal added, skipped, total
        if isinstance(result, str):
            skipped += 1
            logger.warning("skipped %s", result)
            return
        writer.append(result)
        added += 1
        total += result.duration
        bar.update(round(total) - bar.n)

    try:
        if cfg.workers <= 1:
            for job in jobs:
                if total >= target:
                    break
                take(_synthesize(job, out))
            return added, skipped, total
        window: deque = deque()
        with ProcessPoolExecutor(cfg.workers, initializer=_forget_engines) as pool:
            try:
                for job in jobs:
                    window.append(pool.submit(_synthesize, job, out))
                    if len(window) >= 4 * cfg.workers:
                        take(window.popleft().result())
                    if total >= target:
                        break
                while window and total < target:
                    take(window.popleft().result())
            finally:
                _discard(window, Path(out))
    except BrokenProcessPool as e:
        raise RuntimeError(f"a TTS worker process crashed ({e}); {added} records were saved; "
                           "run again to resume") from e
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise RuntimeError(f"disk full while writing under {out}; {added} records were saved; free space and "
                               "run again to resume") from e
        raise
    return added, skipped, total


def _discard(window: deque, out: Path) -> None:
    """Cancel jobs past the target; remove the wavs of those already running (they get no manifest line)."""
    for f in window:
        if f.cancel():
            continue
        try:
            res = f.result()
        except Exception:  # the build is stopping anyway; the error of the job that stopped it is raised
            continue
        if isinstance(res, Utterance):
            (out / res.audio).unlink(missing_ok=True)


def with_overrides(cfg: BuildConfig, **kw) -> BuildConfig:
    """`cfg` with the given fields replaced (None values ignored), e.g. from CLI flags."""
    return replace(cfg, **{k: v for k, v in kw.items() if v is not None})
