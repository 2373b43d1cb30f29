"""Training throughput of LM starting points on this machine (CPU, fp32 or bf16), through the real trainer.

For each candidate it trains a few steps on a synthetic aligned corpus (tone 'speech', exact word
times, the stand-in unit encoder of the tests) with the full data path (unit cache, word-level
interleaving, mixture, packing) and prints:
  tok/s        training tokens per second (forward + backward + AdamW), after warm-up steps
  outside      share of step time spent building and moving batches (target < 5%)
  vs mini      throughput relative to the `mini` candidate measured in the same run

Candidates: llama archs from scratch (`tiny`, `mini`, `small` in spiritlm.training.config.ARCHS, on
a 512-piece SentencePiece vocabulary) and `smollm2` (SmolLM2-135M converted with
`spiritlm data smollm2`, vocabulary 49,152 extended to 49,664).

    .venv/bin/python benchmarks/train_throughput.py --candidates mini,smollm2 --smollm2 /tmp/smollm2-135m
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from spiritlm.data.unit_cache import build_unit_cache  # noqa: E402
from spiritlm.training.config import ARCHS, config_from_dict  # noqa: E402
from spiritlm.training.lm import LMTrainer  # noqa: E402
from test_train_support import SpectralPeakEncoder, write_corpus, write_text_tokenizer  # noqa: E402


def measure(name: str, root: Path, args) -> dict:
    model = ({"init": "pretrained", "path": args.smollm2} if name == "smollm2"
             else {"init": "scratch", "arch": name, "tokenizer": str(root / "tok")})
    cfg = config_from_dict({
        "run": {"out_dir": str(root / f"run-{name}"), "steps": 10**6, "resume": False},
        "model": model,
        "data": {"manifest": str(root / "data" / "manifest.jsonl"), "units": str(root / "units"),
                 "seq_len": args.seq_len, "eval_rows": 0},
        "optim": {"global_batch": args.batch, "micro_batch": args.micro, "warmup_steps": 1},
        "dist": {"precision": args.precision},
    })
    trainer = LMTrainer(cfg)
    n_params = sum(p.numel() for p in trainer.model.parameters())
    for _ in range(args.warmup):
        trainer.train_step()
    data_s = step_s = 0.0
    losses = []
    for _ in range(args.steps):
        loss, d, s = trainer.train_step()
        data_s, step_s, losses = data_s + d, step_s + s, losses + [loss]
    tokens = args.steps * args.batch * args.seq_len
    return {"name": name, "params": n_params, "tok_s": tokens / step_s, "outside": data_s / step_s,
            "step_s": step_s / args.steps, "loss": losses[-1]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--candidates", default="mini,smollm2")
    p.add_argument("--smollm2", default="/tmp/smollm2-135m", help="converted SmolLM2 folder")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch", type=int, default=8, help="rows per step (global batch)")
    p.add_argument("--micro", type=int, default=4)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precision", default="fp32", help="fp32 or bf16 (autocast; AMX / AVX-512 BF16 CPUs)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    names = args.candidates.split(",")
    bad = [n for n in names if n not in ARCHS and n != "smollm2"]
    if bad:
        raise SystemExit(f"unknown candidates {bad}; valid: {', '.join(ARCHS)}, smollm2")
    if "smollm2" in names and not Path(args.smollm2, "config.json").is_file():
        raise SystemExit(f"{args.smollm2} is not a converted SmolLM2 folder; run `spiritlm data smollm2 --out DIR`")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.precision}, seq_len {args.seq_len}, "
          f"batch {args.batch} (micro {args.micro}), {args.steps} timed steps after {args.warmup}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        manifest = write_corpus(root / "data", n_utts=24)
        build_unit_cache(manifest, root / "units", SpectralPeakEncoder(), progress=False)
        write_text_tokenizer(root / "tok")
        print(f"corpus + unit cache: {time.perf_counter() - t:.1f} s")
        rows = [measure(n, root, args) for n in names]
    ref = next((r for r in rows if r["name"] == "mini"), rows[0])
    print(f"{'candidate':<10} {'params':>9} {'tok/s':>8} {'s/step':>7} {'outside':>8} {'vs ' + ref['name']:>8}")
    for r in rows:
        print(f"{r['name']:<10} {r['params'] / 1e6:>8.1f}M {r['tok_s']:>8.0f} {r['step_s']:>7.2f} "
              f"{100 * r['outside']:>7.2f}% {r['tok_s'] / ref['tok_s']:>7.2f}x")


if __name__ == "__main__":
    main()
