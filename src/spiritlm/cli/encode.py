"""`spiritlm encode`: audio files (or a manifest) -> speech units or token strings, as JSON lines.

    spiritlm encode a.wav b.flac --out units.jsonl                       # official Base tokenizer
    spiritlm encode --manifest corpus/manifest.jsonl --out u.jsonl --expressive --format string
    spiritlm encode --manifest m.jsonl --hubert runs/hubert/hubert --quantizer runs/km/kmeans --layer 4 --out u.jsonl

Each output line: ``{"id", "audio", "hubert": "99 49 ...", ["pitch", "style"]}`` (``--format units``)
or ``{"id", "audio", "string": "[Hu99]..."}``. Lines are appended as batches finish, so a rerun
skips the ids already written (resumable). Under torchrun (RANK / WORLD_SIZE set) each rank takes
every WORLD_SIZE-th input and writes ``<out>.rank<R>.jsonl``. Unreadable inputs go to
``<out>.errors.jsonl`` and are retried on the next run.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .checks import check_output_file, positive_int


def register(sub) -> None:
    p = sub.add_parser("encode", help="tokenize audio files or a manifest into speech units / token strings")
    p.add_argument("inputs", nargs="*", help="audio files")
    p.add_argument("--manifest", help="JSON lines with 'audio' (and 'id'); relative paths from its folder")
    p.add_argument("--split", help="only manifest lines of this split")
    p.add_argument("--out", required=True, help="output JSON lines file")
    p.add_argument("--format", choices=("units", "string"), default="units")
    p.add_argument("--expressive", action="store_true", help="official Expressive tokenizer (pitch + style)")
    p.add_argument("--root", help="checkpoints root (default $SPIRITLM_CHECKPOINTS_DIR or ./checkpoints)")
    p.add_argument("--hubert", help="a HuBERT (.pt, folder or name) instead of the official one")
    p.add_argument("--quantizer", help="its quantizer (official .pt or a k-means folder)")
    p.add_argument("--layer", type=int, default=11, help="HuBERT output layer (1-based, default 11)")
    p.add_argument("--compat", action="store_true", help="official blank fill (wrap-around roll)")
    p.add_argument("--batch-files", type=positive_int, default=16, help="files per encoding batch (>= 1)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_run)


def _shard(items: list, rank: int, world: int) -> list:
    return items[rank::world]


def _tokenizer(args):
    from ..speech import hubert, quantizer
    from ..speech.tokenizer import SpeechTokenizer
    from ..speech_tokenizer import spiritlm_base, spiritlm_expressive

    if args.hubert or args.quantizer:
        if not (args.hubert and args.quantizer):
            raise ValueError("--hubert and --quantizer go together")
        units = quantizer.load(args.quantizer, args.compat)  # the small file first: a bad one fails fast
        return SpeechTokenizer(hubert.load(args.hubert, args.layer), units, device=args.device)
    factory = spiritlm_expressive if args.expressive else spiritlm_base
    return factory(root=args.root, device=args.device, compat=args.compat).tokenizer


def _done_ids(path: Path) -> set[str]:
    done = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                done.add(json.loads(line)["id"])
            except (json.JSONDecodeError, KeyError):
                continue  # a torn line from a crash: that input is encoded again
    return done


def _record(entry, units, fmt: str) -> dict:
    from ..tokens import units_to_string

    rec = {"id": entry.id, "audio": str(entry.path)}
    if fmt == "string":
        rec["string"] = units_to_string(units)
    else:
        rec.update({k: v for k, v in units.to_official_dict().items() if k != "audio"})
    return rec


def _run(args) -> int:
    from tqdm import tqdm

    from ..lm.model import check_device
    from ..speech.audio_list import entries_from_paths, read_manifest_entries

    if bool(args.inputs) == bool(args.manifest):
        raise ValueError("give audio files or --manifest (one of the two)")
    check_device(args.device)
    check_output_file(args.out, "--out")  # an existing file is resumed
    entries = read_manifest_entries(args.manifest, args.split) if args.manifest else entries_from_paths(args.inputs)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    out = Path(args.out)
    if world > 1:
        out = out.with_name(f"{out.stem}.rank{rank}{out.suffix or '.jsonl'}")
    check_output_file(out.with_suffix(".errors.jsonl"), "--out (its .errors.jsonl)")
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _done_ids(out)
    todo = [e for e in _shard(entries, rank, world) if e.id not in done]
    tok = _tokenizer(args)
    n_err = 0
    bar = tqdm(total=len(todo), desc=f"encode (rank {rank}/{world})", unit="file")
    for start in range(0, len(todo), args.batch_files):
        batch = todo[start:start + args.batch_files]
        results = tok.encode_batch([e.path for e in batch])
        with open(out, "a", encoding="utf-8") as f, open(out.with_suffix(".errors.jsonl"), "a") as ferr:
            for e, r in zip(batch, results):
                if r.ok:
                    f.write(json.dumps(_record(e, r.units, args.format)) + "\n")
                else:
                    n_err += 1
                    ferr.write(json.dumps({"id": e.id, "audio": str(e.path), "error": r.error}) + "\n")
                    print(f"spiritlm encode: {e.path}: {r.error}", file=sys.stderr)
        bar.update(len(batch))
    bar.close()
    print(f"encoded {len(todo) - n_err} of {len(todo)} files into {out} ({len(done)} were already done, "
          f"{n_err} failed)")
    return 1 if n_err else 0
