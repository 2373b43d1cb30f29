"""A lean decode loop for `LlamaForCausalLM`: a preallocated KV cache and no per-step work that grows.

`transformers.generate` rebuilds attention masks, position ids, cache objects and a list of logits
processors and stopping criteria at every step. On a small model (the mini LMs: 6 layers, 256 wide)
that bookkeeping costs more than the matmuls. `FastDecoder` runs the same network (the very modules
of the model, so int8 / int4 linear layers plug in unchanged) with:

- one KV buffer per layer, `[B, H_kv, max_len, D]`, written in place (a static cache);
- RoPE tables and the padding bias computed once per call, sliced per step;
- modality masks applied as one `masked_fill` with a precomputed mask, and stop ids checked on tensors.

Greedy decoding gives the same tokens as `model.generate` (tests compare them on tiny models).
Sampling supports `temperature`, `top_k` and `top_p` (its random stream differs from `generate`'s).

    dec = FastDecoder(model)                                      # any Llama with default RoPE
    out = dec.generate(input_ids, attention, max_new_tokens=50, stop_ids=[2], blocked=~allowed)
    out.tokens  -> [B, n] new ids (rows padded with pad_id after their stop id)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class SamplingConfig:
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0


def supports(model) -> str | None:
    """None when `FastDecoder` can run `model`, else the reason it cannot."""
    cfg = model.config
    rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        return f"RoPE type {rope.get('rope_type')!r} (only 'default' is implemented)"
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        return "attention or MLP biases"
    if getattr(cfg, "hidden_act", "silu") != "silu":
        return f"activation {cfg.hidden_act!r}"
    return None


def _rope_theta(cfg) -> float:
    rope = getattr(cfg, "rope_parameters", None) or {}
    return float(rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))


class FastDecoder:
    """Decode with a `LlamaForCausalLM`'s own modules and a static KV cache."""

    def __init__(self, model):
        reason = supports(model)
        if reason:
            raise ValueError(f"FastDecoder cannot run this model: {reason}")
        cfg = model.config
        self.model = model
        self.layers = list(model.model.layers)
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.theta = _rope_theta(cfg)
        self.step_fn = self._step

    def compile(self, **kwargs) -> FastDecoder:
        """Compile the one-token step with `torch.compile` (worth it on GPU; shapes stay static)."""
        self.step_fn = torch.compile(self._step, **kwargs)
        return self

    # ------------------------------------------------------------------ network
    def _rope(self, positions: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """positions [B, T] -> cos, sin [B, 1, T, D] (HF's layout: the two halves share frequencies)."""
        d = self.head_dim
        inv = 1.0 / (self.theta ** (torch.arange(0, d, 2, dtype=torch.int64, device=positions.device).float() / d))
        freqs = positions[..., None].float() * inv  # [B, T, D/2]
        emb = torch.cat([freqs, freqs], dim=-1)[:, None]
        return emb.cos().to(dtype), emb.sin().to(dtype)

    @staticmethod
    def _rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin

    def _layer(self, layer, h, cos, sin, cache, pos: int, bias):
        """h [B, T, C]; writes K/V at positions pos..pos+T of `cache` and attends over 0..pos+T."""
        B, T, _ = h.shape
        attn = layer.self_attn
        x = layer.input_layernorm(h)
        q = attn.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = attn.k_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        v = attn.v_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = self._rotate(q, cos, sin), self._rotate(k, cos, sin)
        kc, vc = cache
        kc[:, :, pos:pos + T] = k
        vc[:, :, pos:pos + T] = v
        end = pos + T
        o = F.scaled_dot_product_attention(q, kc[:, :, :end], vc[:, :, :end], attn_mask=bias[..., :end],
                                           enable_gqa=self.n_kv != self.n_heads)
        h = h + attn.o_proj(o.transpose(1, 2).reshape(B, T, -1))
        x = layer.post_attention_layernorm(h)
        mlp = layer.mlp
        return h + mlp.down_proj(F.silu(mlp.gate_proj(x)) * mlp.up_proj(x))

    def _forward(self, ids, positions, caches, pos: int, bias) -> torch.Tensor:
        """ids [B, T] -> logits of the last position [B, V]."""
        m = self.model.model
        h = m.embed_tokens(ids)
        cos, sin = self._rope(positions, h.dtype)
        for layer, cache in zip(self.layers, caches):
            h = self._layer(layer, h, cos, sin, cache, pos, bias)
        return self.model.lm_head(m.norm(h[:, -1:]))[:, 0].float()

    def _step(self, tok, position, caches, pos: int, bias):
        return self._forward(tok[:, None], position[:, None], caches, pos, bias)

    # ------------------------------------------------------------------ decoding
    def _choose(self, logits: torch.Tensor, s: SamplingConfig, generator) -> torch.Tensor:
        if not s.do_sample:
            return logits.argmax(-1)
        logits = logits / max(s.temperature, 1e-5)
        if s.top_k and s.top_k < logits.shape[-1]:
            kth = logits.topk(s.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if s.top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            cum = sorted_logits.softmax(-1).cumsum(-1)
            drop = cum - sorted_logits.softmax(-1) > s.top_p  # keep the smallest prefix reaching top_p
            logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
        return torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]

    @torch.inference_mode()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                 max_new_tokens: int, stop_ids=(), pad_id: int = 0, blocked: torch.Tensor | None = None,
                 sampling: SamplingConfig = SamplingConfig(), generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        """input_ids [B, L] (left-padded; attention_mask 1 on real tokens) -> new ids [B, max_new_tokens].

        `blocked` [V] bool: ids never generated. A row that emits one of `stop_ids` keeps it and is
        padded with `pad_id` afterwards; decoding ends when every row has stopped."""
        B, L = input_ids.shape
        dev = input_ids.device
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        total = L + max_new_tokens
        dtype = self.model.model.embed_tokens.weight.dtype
        if dtype not in (torch.float32, torch.bfloat16, torch.float16):
            dtype = torch.float32
        caches = [(torch.zeros(B, self.n_kv, total, self.head_dim, dtype=dtype, device=dev),
                   torch.zeros(B, self.n_kv, total, self.head_dim, dtype=dtype, device=dev))
                  for _ in self.layers]
        valid = torch.ones(B, total, dtype=torch.bool, device=dev)
        valid[:, :L] = attention_mask.bool()
        neg = torch.finfo(dtype).min
        key_bias = torch.zeros(B, 1, 1, total, dtype=dtype, device=dev).masked_fill(~valid[:, None, None], neg)
        causal = torch.ones(L, L, dtype=torch.bool, device=dev).tril()
        prefill_ok = (causal[None] & valid[:, None, :L]) | torch.eye(L, dtype=torch.bool, device=dev)
        prefill_bias = torch.zeros(B, 1, L, L, dtype=dtype, device=dev).masked_fill(~prefill_ok[:, None], neg)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # HF's rule for left padding
        position = positions[:, -1]
        if blocked is not None:
            blocked = blocked.to(dev)
        stops = torch.tensor(list(stop_ids), dtype=torch.long, device=dev)
        out = torch.full((B, max_new_tokens), pad_id, dtype=torch.long, device=dev)
        done = torch.zeros(B, dtype=torch.bool, device=dev)
        logits = self._forward(input_ids, positions, caches, 0, prefill_bias)
        for i in range(max_new_tokens):
            if blocked is not None:
                n = min(len(blocked), logits.shape[-1])
                logits[:, :n].masked_fill_(blocked[:n], float("-inf"))
            tok = self._choose(logits, sampling, generator)
            tok = torch.where(done, torch.full_like(tok, pad_id), tok)
            out[:, i] = tok
            done = done | torch.isin(tok, stops)
            if i + 1 == max_new_tokens or bool(done.all()):
                return out[:, :i + 1]
            position = position + 1
            logits = self.step_fn(tok, position, caches, L + i, key_bias)
        return out
