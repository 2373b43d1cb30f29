"""Per-token overhead at batch 1: the fast decode loop vs today's `transformers.generate` path, same run.

For each model it decodes the same prompt greedily (a speech turn with the official bans, `compat=True`,
so every path runs to `--new` tokens) in interleaved rounds and prints tokens/s of
  official  `model.generate` with `bad_words_ids` (one list per banned id, as the official code does)
  generate  our pipeline with `fast_decode=False` (ModalityLogitsProcessor inside `generate`)
  fast      our pipeline with the static-cache loop (`spiritlm.lm.fast_decode`)
as ratios against `official`, and checks that the three give the same tokens.

    PYTHONPATH=src .venv/bin/python benchmarks/decode_overhead.py --threads 2
    PYTHONPATH=src .venv/bin/python benchmarks/decode_overhead.py --models spirit-lm-mini-base --quantize int8
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from spiritlm.generation.constraints import allowed_mask
from spiritlm.generation.pipeline import SpiritLM
from spiritlm.generation.types import OutputModality

PROMPT = [("text", "The cat sat on the mat and"), ("speech", "[Hu12][Hu7][Hu33][Hu7][Hu12]")]


def random_150m(root) -> str:
    """A 150 M-parameter Llama in Meta's Base layout (vocab 32512), random weights, official folder files."""
    from spiritlm.lm.tiny import write_tiny_checkpoint

    path = write_tiny_checkpoint(f"{root}/spirit-lm-base-7b", "base", text_vocab_size=32000, seed=0,
                                 hidden=768, layers=12, heads=12, weights="safetensors")
    return str(path)


def official_generate(lm: SpiritLM, new: int) -> list[int]:
    p = lm.build_prompt(PROMPT, "speech")
    banned = (~allowed_mask(lm.layout, OutputModality.SPEECH, lm.tokenizer.eos_id, compat=True)).nonzero()
    ids = torch.tensor([p.ids])
    with torch.inference_mode():
        out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                                do_sample=False, bad_words_ids=[[int(i)] for i in banned.flatten()],
                                pad_token_id=lm.tokenizer.eos_id)
    return out[0, ids.shape[1]:].tolist()


def ours(lm: SpiritLM, new: int, fast: bool) -> list[int]:
    lm.fast_decode = fast
    return lm.generate(PROMPT, output_modality="speech", compat=True, max_new_tokens=new, do_sample=False,
                       synthesize=False).new_ids


def measure(lm: SpiritLM, new: int, rounds: int) -> dict[str, float]:
    runs = {"official": lambda: official_generate(lm, new), "generate": lambda: ours(lm, new, False),
            "fast": lambda: ours(lm, new, True)}
    tokens = {k: f() for k, f in runs.items()}  # warm-up and the equality check
    if not tokens["official"] == tokens["generate"] == tokens["fast"]:
        raise SystemExit(f"paths disagree: {tokens}")
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for k, f in runs.items():
            t = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t)
    return {k: new / v for k, v in best.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["spirit-lm-mini-base", "spirit-lm-mini-expressive", "150m"])
    p.add_argument("--new", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--quantize", choices=["int8"], help="quantize the LMs (all paths) before measuring")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} thread(s), batch 1, greedy, {args.new} new tokens, best of {args.rounds} interleaved rounds")
    print(f"{'model':28s} {'official':>10s} {'generate':>10s} {'fast':>10s}   generate/off  fast/off  fast/generate")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            lm = SpiritLM.from_pretrained(random_150m(tmp) if name == "150m" else name, device="cpu",
                                          quantize=args.quantize)
            n = sum(q.numel() for q in lm.model.parameters()) / 1e6
            s = measure(lm, args.new, args.rounds)
            label = f"{name} ({n:.0f} M)"
            print(f"{label:28s} {s['official']:10.1f} {s['generate']:10.1f} {s['fast']:10.1f}   "
                  f"{s['generate'] / s['official']:11.2f}x {s['fast'] / s['official']:8.2f}x "
                  f"{s['fast'] / s['generate']:12.2f}x")


if __name__ == "__main__":
    main()
