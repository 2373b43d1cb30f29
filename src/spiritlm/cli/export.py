"""`spiritlm export --format official SRC DST`: one of our LMs and its speech side in Meta's format."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="write an LM and its speech parts in Meta's folder layout and file formats")
    p.add_argument("src", help="LM folder or name (e.g. spirit-lm-mini-expressive)")
    p.add_argument("dst", help="checkpoints root to write (use it as SPIRITLM_CHECKPOINTS_DIR for Meta's code)")
    p.add_argument("--format", choices=["official"], default="official")
    p.add_argument("--speech-root", default=None,
                   help="checkpoints root holding the speech side (default: the root the LM folder sits in)")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    from ..export import export_official

    result = export_official(args.src, args.dst, speech_root=args.speech_root, format=args.format)
    print(f"LM: {result.lm.path} ({result.lm.filled_rows} rows filled)")
    if result.speech is not None:
        for rel in result.speech.written:
            print(f"speech: {result.speech.folder / rel}")
        for note in result.speech.notes:
            print(f"note: {note}")
    else:
        print("speech: none found beside the LM (give --speech-root)")
    return 0
