"""Spirit LM 7B-shaped decoding on a GPU: the one prepared device run (issue 16, item 4), under 10 minutes.

A random Llama in Meta's exact 7B shape (32 layers, 4096 wide, 11008 FFN, vocabulary 32512) is built
directly on the GPU in bf16 (no file: nothing to carry), then at batch 1 and 8, greedy, `--new` tokens:
  official  `model.generate` with `bad_words_ids` (one list per banned id: the official code's constraint)
  generate  `model.generate` with our modality mask as a logits processor
  fast      `FastDecoder` (static KV cache, fused weights), eager
  compiled  the same with its one-token step under `torch.compile` (skipped with --no-compile)
with tok/s (all rows together), the ratio to `official`, and % of the memory roofline: bytes of weights read
per step over a device-to-device copy bandwidth measured in the same run. Greedy tokens are checked equal
between the paths at batch 1. Writes the table as JSON to --out (e.g. $OUT/lm_7b_gpu.json).

    python benchmarks/lm_7b_gpu.py --out $OUT/lm_7b_gpu.json            # on the device machine
    python benchmarks/lm_7b_gpu.py --tiny --device cpu --new 4          # the same code on a tiny model, here
"""

from __future__ import annotations

import argparse
import json
import time

import torch

SHAPE_7B = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=32, vocab_size=32512)
SHAPE_TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=4, vocab_size=32512)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bandwidth(device: str, gib: float = 2.0, rounds: int = 5) -> float:
    """Bytes/s moved by a device-to-device copy (read + write), best of `rounds`."""
    n = int(gib * 2**30) // 2
    x = torch.empty(n, dtype=torch.bfloat16, device=device)
    y = torch.empty_like(x)
    best = float("inf")
    for _ in range(rounds):
        sync(device)
        t = time.perf_counter()
        y.copy_(x)
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n * 2 / best


def build(shape: dict, device: str, dtype) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(**shape, max_position_embeddings=4096, rope_theta=10000.0, tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(dtype)
    return model.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="a tiny model of the same vocabulary (a check of the script)")
    p.add_argument("--new", type=int, default=64)
    p.add_argument("--batches", default="1,8")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--out", help="write the results here as JSON")
    args = p.parse_args()
    from spiritlm.generation.constraints import ModalityLogitsProcessor, allowed_mask
    from spiritlm.generation.types import OutputModality
    from spiritlm.lm.fast_decode import FastDecoder
    from spiritlm.vocab import TokenLayout

    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    model = build(SHAPE_TINY if args.tiny else SHAPE_7B, args.device, dtype)
    layout = TokenLayout.base(vocab_size=32512)
    allowed = allowed_mask(layout, OutputModality.SPEECH, 2, compat=True).to(args.device)
    banned = [[int(i)] for i in (~allowed).nonzero().flatten()]
    blocked = ~allowed
    per_step = sum(p.numel() * p.element_size() for n, p in model.named_parameters() if "embed_tokens" not in n)
    bw = bandwidth(args.device)
    rows, tokens = [], {}
    fast = FastDecoder(model)
    compiled = None if args.no_compile else FastDecoder(model).compile(mode="reduce-overhead", fullgraph=False)
    for b in [int(x) for x in args.batches.split(",")]:
        ids = torch.tensor([[1, 32001, 32010, 32020, 32030]] * b, device=args.device)
        mask = torch.ones_like(ids)
        paths = {
            "official": lambda ids=ids, mask=mask: model.generate(
                ids, attention_mask=mask, max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False,
                bad_words_ids=banned, pad_token_id=2)[:, ids.shape[1]:],
            "generate": lambda ids=ids, mask=mask: model.generate(
                ids, attention_mask=mask, max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False,
                logits_processor=[ModalityLogitsProcessor(allowed)], pad_token_id=2)[:, ids.shape[1]:],
            "fast": lambda ids=ids, mask=mask: fast.generate(ids, mask, max_new_tokens=args.new, blocked=blocked),
        }
        if compiled is not None:
            paths["compiled"] = lambda ids=ids, mask=mask: compiled.generate(ids, mask, max_new_tokens=args.new,
                                                                             blocked=blocked)
        base = None
        for name, run in paths.items():
            with torch.inference_mode():
                out = run()  # warm-up (and compilation)
                sync(args.device)
                t = time.perf_counter()
                out = run()
                sync(args.device)
            s = time.perf_counter() - t
            tok_s = b * args.new / s
            base = base or tok_s
            if b == 1:
                tokens[name] = out[0].tolist()
            roofline = bw / per_step  # decoding steps/s if every step read all weights once at that bandwidth
            rows.append({"batch": b, "path": name, "tok_s": round(tok_s, 2), "steps_s": round(args.new / s, 2),
                         "vs_official": round(tok_s / base, 2),
                         "roofline_pct": round(100 * (args.new / s) / roofline, 1)})
            print(json.dumps(rows[-1]), flush=True)
    same = len({json.dumps(v) for v in tokens.values()}) == 1
    result = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
              "shape": "tiny" if args.tiny else "7B", "dtype": str(dtype), "new_tokens": args.new,
              "weights_read_per_step_gb": round(per_step / 1e9, 3), "bandwidth_gb_s": round(bw / 1e9, 1),
              "same_greedy_tokens_batch1": same, "rows": rows}
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    if not same:
        raise SystemExit(f"the paths' greedy tokens differ at batch 1: {tokens}")


if __name__ == "__main__":
    main()
