"""Corpus build speed: hours of audio per wall-clock hour, on `--workers` processes, and the 30-hour extrapolation.

Baseline (same run): each engine alone, in this process, on the same sentences -> real-time factor.
Then a full build (all engines, the 30h preset's mix) of `--hours` hours; its speed is compared with the
single-process mix the baseline predicts. Run it niced when the machine is shared:

    nice -n 19 .venv/bin/python benchmarks/corpus_build_speed.py --hours 2 --workers 2 --out /tmp/corpus-speed
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import time

from spiritlm.data.corpus.builder import build_corpus, get_preset, with_overrides
from spiritlm.data.corpus.engines import find_engines, make_engine
from spiritlm.data.corpus.styles import get_style
from spiritlm.data.corpus.summary import summarize
from spiritlm.data.corpus.texts import load_sentences


def engine_speed(name: str, texts: list[str]) -> float:
    """Seconds of audio per second of compute for one engine, in this process (first voice, neutral)."""
    engine = make_engine(name)
    voice = engine.voices()[0]
    engine.synthesize(texts[0], voice, get_style("neutral"))  # warm-up (model load, caches)
    audio, t0 = 0.0, time.perf_counter()
    for text in texts:
        audio += engine.synthesize(text, voice, get_style("neutral")).duration
    return audio / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="/tmp/spiritlm-corpus-speed")
    ap.add_argument("--baseline-sentences", type=int, default=20)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cfg = with_overrides(get_preset("30h"), hours=args.hours, workers=args.workers)

    t0 = time.perf_counter()
    sentences = load_sentences(cfg.sources, cfg.min_words, cfg.max_words, cfg.seed)
    t_text = time.perf_counter() - t0
    texts = [s.text for s in sentences[: args.baseline_sentences]]
    for name in find_engines(cfg.engines):
        print(f"baseline {name:9s}: {engine_speed(name, texts):7.1f}x real time (1 process)")

    shutil.rmtree(args.out, ignore_errors=True)
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    res = build_corpus(cfg, args.out, sentences=sentences, progress=True)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    speed = res.hours / (wall / 3600)  # hours of audio per wall-clock hour
    summ = summarize(res.manifest)
    per_engine = {k: f"{t.hours:.2f} h" for k, t in summ.by["engine"].items()}
    print(f"text loading: {t_text:.1f} s for {len(sentences)} sentences")
    print(f"build: {res.hours:.3f} h of audio ({res.records} utterances, {res.skipped} skipped) in {wall:.0f} s "
          f"on {args.workers} workers; per engine {per_engine}")
    print(f"speed: {speed:.1f} hours of audio per wall-clock hour ({speed:.1f}x real time)")
    print(f"extrapolated 30-hour build: {30 / speed * 60 + t_text / 60:.1f} min wall-clock at this speed")
    cpu_speed = res.hours / (cpu / args.workers / 3600)  # if the workers had their cores to themselves
    print(f"CPU time: {cpu:.0f} s (workers + engine subprocesses) = {res.hours * 3600 / cpu:.1f} s audio per CPU "
          f"second; on {args.workers} dedicated cores: {cpu_speed:.1f} hours of audio per hour, a 30-hour build "
          f"in {30 / cpu_speed * 60 + t_text / 60:.1f} min")


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of all its finished children (workers, flite, festival)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
