"""Choice scoring speed: items per second, one-at-a-time vs padded batches vs shared-context batches.

One random Llama in our token layout (`spiritlm.lm.tiny`, width/depth set below), one set of
StoryCloze-shaped items (a context of `--ctx` tokens, two endings of ~`--cand` tokens), scored three ways
in the same run: (1) baseline, one (context + ending) sequence at a time, as a naive harness does;
(2) `score_choices_flat`, all rows right-padded in batches of `--batch`; (3) `score_choices_shared`, each
context run once per batch and its KV cache shared by the endings. Prints items/s and the ratios
against (1), and the largest score difference (must be ~1e-5: the same numbers):

    nice -n 10 .venv/bin/python benchmarks/eval_batched_scoring.py --items 32 --ctx 300 --cand 40
"""

from __future__ import annotations

import argparse
import random
import time

import torch
from transformers import LlamaForCausalLM

from spiritlm.eval.paper.batched import score_choices_flat, score_choices_shared
from spiritlm.lm.tiny import tiny_llama_config
from spiritlm.vocab import TokenLayout


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--ctx", type=int, default=300, help="context tokens (a spoken StoryCloze story: ~300-600)")
    ap.add_argument("--cand", type=int, default=40, help="ending tokens (+-25%)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layout = TokenLayout.base(32000)
    model = LlamaForCausalLM(tiny_llama_config(layout, hidden=args.hidden, layers=args.layers, heads=4)).eval()
    rng = random.Random(0)

    def seq(n: int) -> list[int]:
        return [rng.randrange(3, layout.vocab_size) for _ in range(n)]

    items = [([1] + seq(args.ctx), [seq(rng.randint(args.cand * 3 // 4, args.cand * 5 // 4)) for _ in range(2)])
             for _ in range(args.items)]
    score_choices_flat(model, items[:2], 1)  # warm-up
    one, t_one = timed(score_choices_flat, model, items, 1)
    flat, t_flat = timed(score_choices_flat, model, items, args.batch)
    shared, t_shared = timed(score_choices_shared, model, items, args.batch)
    diff = max(abs(a.logprob - b.logprob) for x, y in zip(one, shared) for a, b in zip(x, y))
    diff = max(diff, max(abs(a.logprob - b.logprob) for x, y in zip(one, flat) for a, b in zip(x, y)))
    n = len(items)
    print(f"model: hidden {args.hidden}, {args.layers} layers, vocab {layout.vocab_size}; {n} items, context "
          f"{args.ctx} tokens, 2 endings of ~{args.cand}; batch {args.batch}; {args.threads} thread(s)")
    print(f"one at a time (baseline): {n / t_one:8.2f} items/s")
    print(f"padded batches          : {n / t_flat:8.2f} items/s  x{t_one / t_flat:.2f}")
    print(f"shared-context batches  : {n / t_shared:8.2f} items/s  x{t_one / t_shared:.2f}")
    print(f"largest score difference: {diff:.2e}")


if __name__ == "__main__":
    main()
