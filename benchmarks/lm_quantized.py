"""Decoding speed of the LM in fp32 and int8 (dynamic quantization, `spiritlm.lm.quantize`) on CPU.

Both models decode the same prompt greedily with the KV cache, in the same run; it prints tokens/s
for each, the speed-up (int8 / fp32), the weight memory of the linear layers, and how closely int8
follows fp32: mean KL(fp32 || int8) of the next-token distributions and top-1 agreement over a
teacher-forced sequence.

    .venv/bin/python benchmarks/lm_quantized.py                       # random SmolLM2-135M-shaped Llama
    .venv/bin/python benchmarks/lm_quantized.py --model spirit-lm-mini-base --threads 2
"""

from __future__ import annotations

import argparse
import copy
import time

import torch


def random_model(vocab: int, seed: int = 0):
    """A Llama shaped like SmolLM2-135M (the largest model we convert), random weights, Spirit vocabulary size."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                      tie_word_embeddings=True)
    return LlamaForCausalLM(cfg).eval()


def decode_speed(model, prompt: torch.Tensor, new: int, repeats: int) -> float:
    best = float("inf")
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=4, min_new_tokens=4, do_sample=False)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model.generate(prompt, max_new_tokens=new, min_new_tokens=new, do_sample=False)
            best = min(best, time.perf_counter() - start)
    return new / best


def linear_bytes(model) -> int:
    total = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            total += m.weight.numel() * m.weight.element_size()
        elif m._get_name() == "DynamicQuantizedLinear":
            w = m.weight()
            total += w.numel() * w.element_size()
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a Spirit LM name or folder (default: random SmolLM2-135M-shaped Llama)")
    p.add_argument("--vocab", type=int, default=49664)
    p.add_argument("--prompt-len", type=int, default=64)
    p.add_argument("--new", type=int, default=48)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from spiritlm.lm.quantize import quantize_lm

    if args.model:
        from spiritlm.lm.model import load_lm

        fp32 = load_lm(args.model, device="cpu", dtype=torch.float32).model
        name = args.model
    else:
        fp32 = random_model(args.vocab)
        name = "random SmolLM2-135M-shaped Llama"
    int8 = quantize_lm(copy.deepcopy(fp32))
    vocab = fp32.config.vocab_size
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, vocab, (1, args.prompt_len), generator=g)
    seq = torch.randint(0, vocab, (1, 256), generator=g)
    with torch.no_grad():
        a = fp32(seq).logits.log_softmax(-1)
        b = int8(seq).logits.log_softmax(-1)
    kl = float((a.exp() * (a - b)).sum(-1).mean())
    top1 = float((a.argmax(-1) == b.argmax(-1)).float().mean())
    s32 = decode_speed(fp32, prompt, args.new, args.repeats)
    s8 = decode_speed(int8, prompt, args.new, args.repeats)
    n = sum(p.numel() for p in fp32.parameters())
    print(f"model: {name} ({n / 1e6:.1f} M parameters), {args.threads} thread(s), prompt {args.prompt_len}, "
          f"{args.new} new tokens, best of {args.repeats}")
    print(f"fp32: {s32:8.1f} tokens/s   linear weights {linear_bytes(fp32) / 2**20:7.1f} MiB")
    print(f"int8: {s8:8.1f} tokens/s   linear weights {linear_bytes(int8) / 2**20:7.1f} MiB")
    print(f"speed-up int8/fp32: {s8 / s32:.2f}x   KL(fp32||int8) {kl:.2e} nats   top-1 agreement {top1:.3f}")


if __name__ == "__main__":
    main()
