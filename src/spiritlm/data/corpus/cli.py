"""`spiritlm data synth | summary | pairs | align-check`: the corpus commands."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("synth", help="build (or resume) a synthetic speech-text corpus")
    p.add_argument("out", help="output folder (manifest.jsonl + wav/)")
    p.add_argument("--preset", default="small", help="tiny | small | mini | 30h (default small)")
    p.add_argument("--hours", type=float, help="size target in hours of audio")
    p.add_argument("--workers", type=int, help="parallel worker processes (0 = in-process)")
    p.add_argument("--seed", type=int)
    p.add_argument("--engines", help="comma-separated subset of espeak,flite,festival,piper")
    p.add_argument("--sources", help="comma-separated subset of fortunes,wordnet,bible")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_synth)

    p = sub.add_parser("summary", help="hours per speaker, style, split, engine of a corpus")
    p.add_argument("manifest", help="manifest.jsonl or the corpus folder")
    p.add_argument("--validate", action="store_true", help="also check every record and that its wav exists")
    p.set_defaults(func=_summary)

    p = sub.add_parser("pairs", help="spoken word/non-word and grammatical/ungrammatical pair sets")
    p.add_argument("out", help="output folder")
    p.add_argument("--lexical", type=int, default=200, help="number of word / non-word pairs")
    p.add_argument("--syntactic", type=int, default=200, help="number of grammatical / ungrammatical pairs")
    p.add_argument("--engine", default="espeak", help="TTS engine that speaks them")
    p.add_argument("--voice", help="the engine's voice name (default: its first)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_pairs)

    p = sub.add_parser("align-check", help="compare manifest word times with pocketsphinx forced alignment")
    p.add_argument("manifest", help="manifest.jsonl or the corpus folder")
    p.add_argument("--sample", type=int, default=50, help="utterances to check")
    p.add_argument("--engine", help="only utterances of this engine")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_align_check)


def _manifest_path(path: str):
    from pathlib import Path

    p = Path(path)
    return p / "manifest.jsonl" if p.is_dir() else p


def _split(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


def _synth(args: argparse.Namespace) -> int:
    from .builder import build_corpus, get_preset, with_overrides

    cfg = with_overrides(get_preset(args.preset), hours=args.hours, workers=args.workers, seed=args.seed,
                         engines=_split(args.engines), sources=_split(args.sources))
    r = build_corpus(cfg, args.out, progress=not args.no_progress)
    print(f"{r.manifest}: {r.records} utterances, {r.hours:.3f} h ({r.added} added, {r.skipped} skipped); "
          f"engines: {', '.join(r.engines)}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from .manifest import read_manifest, validate
    from .summary import format_summary, summarize

    path = _manifest_path(args.manifest)
    if args.validate:
        for rec in read_manifest(path):
            validate(rec, path.parent)
    print(format_summary(summarize(path)))
    return 0


def _pairs(args: argparse.Namespace) -> int:
    from .pairs import PairConfig, build_pairs

    res = build_pairs(PairConfig(args.lexical, args.syntactic, args.engine, args.voice, args.seed), args.out)
    print(f"{res.manifest}: {res.lexical} lexical and {res.syntactic} syntactic pairs")
    return 0


def _align_check(args: argparse.Namespace) -> int:
    from .align_check import align_check, format_report

    print(format_report(align_check(_manifest_path(args.manifest), args.sample, args.engine, args.seed)))
    return 0
