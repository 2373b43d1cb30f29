"""7B on CPU: lazy load peak RSS and load time, and decode tok/s against the memory roofline, per quantize= option.

Writes (once) a random bf16 checkpoint in Meta's 7B layout (`spiritlm.lm.random_checkpoint`, ~13.5 GB)
under --path, then for each option, in a fresh process (so that ru_maxrss is that option's own peak):
load it lazily, decode --new tokens greedily at batch 1 with the fast loop, and print
  load s, peak RSS (and its ratio to the final weights), tok/s,
  roofline tok/s = bandwidth / bytes of weights read per token, with the bandwidth measured in the
  same process by summing a 1 GiB tensor, and tok/s as a % of it.

    PYTHONPATH=src .venv/bin/python benchmarks/lm_7b_cpu.py --path /tmp/spiritlm-7b/spirit-lm-base-7b --quantize int4

`llamacpp-q4_0` / `llamacpp-q8_0` (optional extra `llamacpp`): llama.cpp on the GGUF export in
<path>/gguf/ (written on first use, not timed), bytes per token = the GGUF's tensors but token_embd.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch


def bandwidth(gib: float = 1.0, rounds: int = 3) -> float:
    """Bytes/s of a streaming read (sum over a large fp32 tensor), best of `rounds`."""
    x = torch.ones(int(gib * 2**30) // 4)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        float(x.sum())
        best = min(best, time.perf_counter() - t)
    del x
    return gib * 2**30 / best


def weight_bytes(model) -> tuple[int, int]:
    """(all weight bytes, bytes read per decoded token: everything but the embedding table)."""
    from spiritlm.lm.weight_only import WeightOnlyLinear

    if getattr(model, "is_llamacpp", False):  # the tensors of the GGUF file, as llama.cpp stores them
        import gguf

        sizes = {t.name: int(t.n_bytes) for t in gguf.GGUFReader(model.path).tensors}
        return sum(sizes.values()), sum(n for k, n in sizes.items() if not k.startswith("token_embd"))

    total = per_token = 0
    for name, m in model.named_modules():
        if isinstance(m, WeightOnlyLinear):
            n = m.weight_bytes
        else:
            n = sum(p.numel() * p.element_size() for p in m.parameters(recurse=False))
        total += n
        per_token += 0 if "embed_tokens" in name else n
    return total, per_token


BASELINE = "bf16-generate"  # the official path on CPU: bf16 weights (from_pretrained), transformers.generate


def one(path: str, quantize: str, new: int, threads: int) -> dict:
    from spiritlm.lm.fast_decode import FastDecoder
    from spiritlm.lm.model import load_lm

    torch.set_num_threads(threads)
    bw_before = bandwidth()  # before loading: its 1 GiB buffer stays under the model's RSS high-water mark
    t = time.perf_counter()
    if quantize == BASELINE:
        model = load_lm(path, device="cpu", dtype=torch.bfloat16).model
    elif quantize.startswith("llamacpp-"):  # GGUF in <path>/gguf/, exported on first use (not timed here)
        from spiritlm.lm.llamacpp import gguf_file

        gguf_file(Path(path), quantize.removeprefix("llamacpp-"))
        t = time.perf_counter()
        model = load_lm(path, device="cpu", quantize=quantize).model
        model.threads = threads
    else:
        model = load_lm(path, device="cpu", quantize=quantize).model
    load_s = time.perf_counter() - t
    peak_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    total, per_token = weight_bytes(model)
    ids = torch.tensor([[1, 415, 10150, 338]])
    if quantize == BASELINE:
        def run(n):
            with torch.inference_mode():
                return model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)[:, ids.shape[1]:]
    elif quantize.startswith("llamacpp-"):
        def run(n):  # our loop around llama.cpp's logits (lm/llamacpp.py), no stop ids: exactly n tokens
            return model.generate_new(ids, None, max_new_tokens=n)
    else:
        dec = FastDecoder(model)

        def run(n):
            return dec.generate(ids, max_new_tokens=n)
    run(2)  # warm-up
    t = time.perf_counter()
    out = run(new)
    tok_s = out.shape[1] / (time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # the measured bandwidth swings between runs on a shared VM: the larger of two measurements, so the
    # roofline percentage errs low
    bw = max(bw_before, bandwidth())
    return {"quantize": quantize, "load_s": load_s, "peak_rss_load": peak_load, "peak_rss": peak, "weights": total,
            "per_token": per_token, "tok_s": tok_s, "bandwidth": bw, "roofline": bw / per_token}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", required=True, help="checkpoint folder (written with random weights if missing)")
    p.add_argument("--variant", default="base", choices=["base", "expressive"])
    p.add_argument("--quantize", nargs="+", default=[BASELINE, "int8-weight", "int4"],
                   help=f"options to measure ({BASELINE}, int8-weight, int4, llamacpp-q4_0, llamacpp-q8_0, ...); "
                   f"{BASELINE!r} is the baseline the ratios are against")
    p.add_argument("--baseline", default=BASELINE,
                   help="the option the ratios are against (one of --quantize; bf16-generate peaks ~15 GB at 7B)")
    p.add_argument("--new", type=int, default=8)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.path, args.one, args.new, args.threads)))
        return
    if not Path(args.path, "model.safetensors").is_file():
        from spiritlm.lm.random_checkpoint import write_random_checkpoint

        t = time.perf_counter()
        write_random_checkpoint(args.path, args.variant)
        print(f"wrote a random 7B checkpoint to {args.path} in {time.perf_counter() - t:.0f} s")
    print(f"{args.threads} thread(s), batch 1, greedy, {args.new} new tokens; GB = 1e9 bytes")
    rows = {}
    for q in args.quantize:
        r = subprocess.run([sys.executable, __file__, "--path", args.path, "--one", q, "--new", str(args.new),
                            "--threads", str(args.threads)], capture_output=True, text=True)
        if r.returncode:
            print(f"{q:14s} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
            continue
        rows[q] = json.loads(r.stdout.strip().splitlines()[-1])
    base = rows.get(args.baseline, {}).get("tok_s")
    for q, m in rows.items():
        ratio = f"  {m['tok_s'] / base:5.2f}x {args.baseline}" if base else ""
        print(f"{q:14s} load {m['load_s']:6.1f} s  peak RSS {m['peak_rss'] / 1e9:5.2f} GB "
              f"({m['peak_rss'] / m['weights']:.2f}x final weights {m['weights'] / 1e9:.2f} GB; after load "
              f"{m['peak_rss_load'] / 1e9:5.2f} GB)  {m['tok_s']:5.2f} tok/s{ratio}  bandwidth "
              f"{m['bandwidth'] / 1e9:5.1f} GB/s  roofline {m['roofline']:5.2f} tok/s  -> "
              f"{100 * m['tok_s'] / m['roofline']:4.0f} % of roofline", flush=True)


if __name__ == "__main__":
    main()
