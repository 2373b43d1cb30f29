"""`spiritlm eval`: run the evaluation benchmarks (`spiritlm.eval`) and write their results.

    spiritlm eval resynthesis --model M --manifest corpus/manifest.jsonl --limit 100 --out resynth.json
    spiritlm eval tts --model M --manifest F --shots 3 --out tts.json
    spiritlm eval sentiment --model M --manifest F --direction s2t --out s2t.json
    spiritlm eval all --model M --manifest F [--classifier STYLE] [--baseline TEXT_LM] [--pairs P] --out all.json
    spiritlm eval report all.json [more.json ...] [--out results.md]
    spiritlm eval report interleaved.json no_interleaving.json --compare     # the ablation, side by side
    spiritlm eval stsp --ref ref.jsonl --pred pred.jsonl          # the official accuracy line
    spiritlm eval stsp-ref --manifest F --split test --out ref.jsonl
    spiritlm eval unit-quality --kmeans runs/kmeans-phone/kmeans --kmeans runs/kmeans-mfcc/kmeans \
        [--manifest corpus/manifest.jsonl] [--real-speech] --out uq.json   # phone purity, PNMI of units
    spiritlm eval paper --model M --data-root R [--only swuggy,tsc] --out paper-eval/   # the paper's tables
    spiritlm eval paper-standins R --n 20          # synthetic stand-ins of the releases (not the real sets)

Every field of a benchmark's config is an option (`--max-new-tokens`, `--no-reference`, ...), on top
of `--preset` (default / tiny); `--limit 0` takes the whole split. The results file records the
exact command that made it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import shlex
import sys
from pathlib import Path

from ..eval import BENCHMARKS

ALL_SKIP = {"stsp"}  # scoring of existing files, not a model benchmark
_TYPES = {"str": str, "int": int, "float": float, "int | None": int, "float | None": float}


def _config_class(name: str):
    module, cls = BENCHMARKS[name]
    return getattr(importlib.import_module(module), cls)


def _add_config_options(p, cls, skip: set[str] = frozenset()) -> None:
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            p.add_argument(flag, action="store_true", default=None, help=f"(default {f.default})")
            p.add_argument("--no-" + f.name.replace("_", "-"), dest=f.name, action="store_false")
        elif f.type in _TYPES:
            p.add_argument(flag, type=_TYPES[f.type], default=None, help=f"(default {f.default})")


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluation benchmarks (resynthesis, TTS, ASR, perplexity, style, ...)")
    bench = p.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name in BENCHMARKS:
        cls = _config_class(name)
        q = bench.add_parser(name, help=(inspect.getdoc(importlib.import_module(BENCHMARKS[name][0])) or "")
                             .splitlines()[0])
        q.add_argument("--preset", default="default", help="config preset: default or tiny")
        q.add_argument("--out", help="write the result (JSON) here")
        q.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a busy machine)")
        _add_config_options(q, cls)
        q.set_defaults(func=_run_one)
    a = bench.add_parser("all", help="every model benchmark, sharing one loaded model and one Whisper")
    for flag in ("--model", "--manifest"):
        a.add_argument(flag, required=True)
    a.add_argument("--classifier", default="", help="style classifier folder (style benchmark; skipped without)")
    a.add_argument("--baseline", default="", help="starting text LM folder (perplexity)")
    a.add_argument("--pairs", default="", help="pairs.jsonl (likelihood pairs)")
    a.add_argument("--split", default="test")
    a.add_argument("--limit", type=int, default=None, help="items per benchmark")
    a.add_argument("--preset", default="default")
    a.add_argument("--only", default="", help="comma-separated subset, e.g. resynthesis,tts")
    a.add_argument("--shots", type=int, help="examples in the TTS and ASR prompts (default: the preset's, 3)")
    a.add_argument("--no-flags", dest="flags", action="store_false", default=None,
                   help="ASR prompts without the paper's <START Transcript> ... <END> flags")
    a.add_argument("--out", help="write all results (JSON) here")
    a.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a busy machine)")
    a.set_defaults(func=_run_all)
    r = bench.add_parser("report", help="Markdown table of result files")
    r.add_argument("results", nargs="+")
    r.add_argument("--out", help="write the Markdown here (default: print)")
    r.add_argument("--compare", action="store_true", help="one column per file (e.g. the no-interleaving ablation)")
    r.set_defaults(func=_run_report)
    s = bench.add_parser("stsp-ref", help="a manifest split as an official STSP reference file")
    s.add_argument("--manifest", required=True)
    s.add_argument("--split", default="test")
    s.add_argument("--limit", type=int, default=None)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_run_stsp_ref)
    u = bench.add_parser("unit-quality", help="phone purity and PNMI of k-means units (corpus manifest and/or "
                         "real speech)")
    u.add_argument("--kmeans", action="append", required=True, help="a k-means folder (repeat to compare)")
    u.add_argument("--manifest", default="", help="corpus manifest with phone timings (empty: none)")
    u.add_argument("--split", default="test")
    u.add_argument("--max-files", type=int, default=None)
    u.add_argument("--real-speech", action="store_true",
                   help="also score pocketsphinx-testdata's real recordings, labelled by forced alignment")
    u.add_argument("--real-speech-folder", default=None, help="its data folder (default: the Debian package's)")
    u.add_argument("--by-voice", type=int, default=0, metavar="N",
                   help="also score the corpus's held-out voices and its seen voices apart, N files each, "
                   "labelled with the shared 40-phone inventory")
    u.add_argument("--out", help="write the scores (JSON) here")
    u.add_argument("--threads", type=int, help="torch CPU threads")
    u.set_defaults(func=_run_unit_quality)
    from .eval_paper import register_paper

    register_paper(bench)


def _command(args, names: list[str]) -> str:
    parts = ["spiritlm", "eval", args.benchmark]
    for n in names:
        v = getattr(args, n, None)
        if v is None or v == "" or (n == "preset" and v == "default"):
            continue
        flag = "--" + n.replace("_", "-")
        parts += [flag] if v is True else ["--no-" + n.replace("_", "-")] if v is False else [flag, str(v)]
    return shlex.join(parts)


def _write(path: str | None, command: str, results: list[dict], skipped: list[dict] | None = None) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        data = {"command": command, "results": results} | ({"skipped": skipped} if skipped else {})
        Path(path).write_text(json.dumps(data, indent=1, default=str))
        print(f"wrote {path}")


def _summary(result: dict) -> str:
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in result["metrics"].items())
    return f"{result['benchmark']} (n={result['n_items']}, {result.get('seconds', 0):.1f} s): {metrics}"


def _setup(args) -> None:
    """Thread count, and quiet faster-whisper (one INFO line per clip) so the console shows our progress."""
    import logging

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def _run_one(args) -> int:
    _setup(args)
    cls = _config_class(args.benchmark)
    names = [f.name for f in dataclasses.fields(cls)]
    overrides = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if overrides.get("limit") == 0:  # --limit 0: the whole split
        overrides["limit"] = None
    config = cls.preset(args.preset, **overrides)
    module = importlib.import_module(BENCHMARKS[args.benchmark][0])
    result = module.run(config)
    if args.benchmark == "stsp":  # the official accuracy line
        print(module.score(config.ref, config.pred, config.label).line(config.pred))
    print(_summary(result))
    _write(args.out, _command(args, ["preset", *names]), [result])
    return 0


def _accepts(fn, **kwargs) -> dict:
    params = inspect.signature(fn).parameters
    return {k: v for k, v in kwargs.items() if k in params}


def _all_jobs(args) -> list[tuple[str, dict]]:
    common = {"model": args.model, "manifest": args.manifest, "split": args.split}
    if args.limit is not None:
        common["limit"] = args.limit or None  # --limit 0: the whole split
    no_model = {k: v for k, v in common.items() if k != "model"}
    shots = {} if getattr(args, "shots", None) is None else {"shots": args.shots}
    flags = {} if getattr(args, "flags", None) is None else {"flags": args.flags}
    jobs = [("referee", no_model), ("resynthesis", common), ("tts", common | shots), ("asr", common | shots | flags),
            ("perplexity", common | {"baseline": args.baseline}),
            ("likelihood", common | {"pairs": args.pairs}),
            ("sentiment", common | {"direction": "t2s"}), ("sentiment", common | {"direction": "s2t"})]
    if args.classifier:
        jobs.insert(4, ("style", common | {"classifier": args.classifier}))
    if args.only:
        keep = {x.strip() for x in args.only.split(",")}
        bad = keep - set(BENCHMARKS) - {"sentiment_t2s", "sentiment_s2t"}
        if bad:
            raise ValueError(f"unknown benchmark(s) {sorted(bad)} in --only; valid: {', '.join(BENCHMARKS)}")
        jobs = [(n, o) for n, o in jobs if n in keep or f"{n}_{o.get('direction')}" in keep]
    return jobs


def _run_all(args) -> int:
    from ..eval.asr_whisper import WhisperTranscriber
    from ..eval.common import load_spiritlm

    _setup(args)
    lm = load_spiritlm(args.model)
    asr = WhisperTranscriber()
    results, skipped = [], []
    command = _command(args, ["model", "manifest", "classifier", "baseline", "pairs", "split", "limit", "preset",
                              "only", "shots", "flags"])
    for name, overrides in _all_jobs(args):
        module = importlib.import_module(BENCHMARKS[name][0])
        config = _config_class(name).preset(args.preset, **overrides)
        try:
            result = module.evaluate(config, **_accepts(module.evaluate, lm=lm, transcriber=asr)).to_dict()
        except ValueError as e:  # this data or model cannot run this benchmark: say so, run the others
            print(f"{name}: skipped: {e}", flush=True)
            skipped.append({"benchmark": name, "config": dataclasses.asdict(config), "reason": str(e)})
            continue
        print(_summary(result), flush=True)
        results.append(result)
        _write(args.out, command, results, skipped)  # after each: a crash keeps what is done
    _write(args.out, command, results, skipped)
    return 1 if skipped and not results else 0


def _run_report(args) -> int:
    from ..eval.report import report

    text = report(args.results, args.compare)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _run_stsp_ref(args) -> int:
    from ..eval.stsp import write_reference

    print(f"wrote {write_reference(args.manifest, args.out, args.split, args.limit)}")
    return 0


def _run_unit_quality(args) -> int:
    from ..eval.unit_quality import UnitQualityConfig, run

    _setup(args)
    extra = {} if args.real_speech_folder is None else {"real_speech_folder": args.real_speech_folder}
    config = UnitQualityConfig(manifest=args.manifest, kmeans=tuple(args.kmeans), split=args.split or None,
                               max_files=args.max_files, real_speech=args.real_speech, by_voice=args.by_voice,
                               **extra)
    scores = run(config)
    for key, q in scores.items():
        print(q.as_row(key))
    parts = ["spiritlm", "eval", "unit-quality"]
    for k in args.kmeans:
        parts += ["--kmeans", k]
    for flag, v in (("--manifest", args.manifest), ("--split", args.split if args.manifest else ""),
                    ("--max-files", args.max_files), ("--real-speech-folder", args.real_speech_folder),
                    ("--by-voice", args.by_voice or None)):
        parts += [flag, str(v)] if v not in (None, "") else []
    parts += ["--real-speech"] if args.real_speech else []
    _write(args.out, shlex.join(parts), [{"name": k} | dataclasses.asdict(q) for k, q in scores.items()])
    return 0
