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


FUSE_MAX_BYTES = 1 << 30  # fuse q/k/v and gate/up weights (a copy) only for models below this size


def _small(model) -> bool:
    return sum(p.numel() * p.element_size() for p in model.parameters()) < FUSE_MAX_BYTES


def _linear(module):
    """A plain `nn.Linear` without bias is called as `F.linear` (no module-call overhead); others as is."""
    if type(module) is torch.nn.Linear and module.bias is None:
        w = module.weight
        return lambda x: F.linear(x, w)
    return module


def _norm(module):
    """HF's RMSNorm; in fp32 `F.rms_norm` computes exactly the same thing in one call."""
    w = getattr(module, "weight", None)
    if w is not None and w.dtype == torch.float32 and hasattr(module, "variance_epsilon"):
        shape, eps = (w.shape[-1],), module.variance_epsilon
        return lambda x: F.rms_norm(x, shape, w, eps)
    return module


def _mm(x: torch.Tensor, wt: torch.Tensor) -> torch.Tensor:
    """x [..., in] @ wt [in, out] (a transposed, contiguous copy of a Linear's weight)."""
    return torch.mm(x.reshape(-1, x.shape[-1]), wt).view(*x.shape[:-1], wt.shape[1])


def _transposed(w: torch.Tensor) -> torch.Tensor:
    # at batch 1 on CPU, x @ W^T with W^T contiguous runs ~2x faster than F.linear(x, W) (measured on the mini
    # LMs' 256 x 768 / 256 x 1536 weights: benchmarks/decode_overhead.py)
    return w.detach().t().contiguous()


@dataclass
class _LayerPlan:
    """One decoder layer's callables; `wqkv` / `wgu` / `wo` / `wdown` are fused, transposed weight copies
    ([in, out], contiguous) when the projections are plain Linears of a small model."""

    norm1: object
    norm2: object
    q: object
    k: object
    v: object
    o: object
    gate: object
    up: object
    down: object
    wqkv: torch.Tensor | None = None
    wgu: torch.Tensor | None = None
    wo: torch.Tensor | None = None
    wdown: torch.Tensor | None = None

    @classmethod
    def of(cls, layer, fuse: bool) -> _LayerPlan:
        a, m = layer.self_attn, layer.mlp
        plain = all(type(x) is torch.nn.Linear and x.bias is None
                    for x in (a.q_proj, a.k_proj, a.v_proj, a.o_proj, m.gate_proj, m.up_proj, m.down_proj))
        wqkv = wgu = wo = wdown = None
        if fuse and plain:
            wqkv = _transposed(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]))
            wgu = _transposed(torch.cat([m.gate_proj.weight, m.up_proj.weight]))
            wo, wdown = _transposed(a.o_proj.weight), _transposed(m.down_proj.weight)
        return cls(_norm(layer.input_layernorm), _norm(layer.post_attention_layernorm), _linear(a.q_proj),
                   _linear(a.k_proj), _linear(a.v_proj), _linear(a.o_proj), _linear(m.gate_proj),
                   _linear(m.up_proj), _linear(m.down_proj), wqkv, wgu, wo, wdown)


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
        self.plans: list[_LayerPlan] = []
        self._signature: tuple = ()
        self.head_t: torch.Tensor | None = None
        self.step_fn = self._step

    def _refresh(self) -> None:
        """(Re)build the layer plans when the model's modules or weights changed since the last call
        (the fused weights are copies; training or quantizing in place must not leave them stale)."""
        sig = tuple((id(m), *((id(t), t.data_ptr(), t._version) for t in m.parameters(recurse=False)))
                    for m in self.model.modules())
        if sig != self._signature:
            self.layers = list(self.model.model.layers)
            small = _small(self.model)
            self.plans = [_LayerPlan.of(layer, fuse=small) for layer in self.layers]
            head = self.model.lm_head
            self.head_t = (_transposed(head.weight) if small and type(head) is torch.nn.Linear and head.bias is None
                           else None)
            self._signature = sig

    def compile(self, **kwargs) -> FastDecoder:
        """Compile the one-token step with `torch.compile` (worth it on GPU; shapes stay static)."""
        self.step_fn = torch.compile(self._step, **kwargs)
        return self

    # ------------------------------------------------------------------ network
    def _rope_table(self, total: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [total, D] for positions 0..total-1 (HF's layout: the two halves share frequencies)."""
        d = self.head_dim
        inv = 1.0 / (self.theta ** (torch.arange(0, d, 2, dtype=torch.int64, device=device).float() / d))
        freqs = torch.arange(total, device=device).float()[:, None] * inv  # [total, D/2]
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    @staticmethod
    def _rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin

    def _layer(self, plan: _LayerPlan, h, cos, sin, cache, pos: int, bias):
        """h [B, T, C]; writes K/V at positions pos..pos+T of `cache` and attends over 0..pos+T."""
        B, T, _ = h.shape
        nq, nkv, d = self.n_heads * self.head_dim, self.n_kv * self.head_dim, self.head_dim
        x = plan.norm1(h)
        kc, vc = cache
        end = pos + T
        if plan.wqkv is not None:
            qkv = _mm(x, plan.wqkv)
            # q and k are adjacent columns: one rotation for both heads' sets
            qk = self._rotate(qkv[..., :nq + nkv].view(B, T, self.n_heads + self.n_kv, d).transpose(1, 2), cos, sin)
            q, k = qk[:, :self.n_heads], qk[:, self.n_heads:]
            v = qkv[..., nq + nkv:]
        else:
            q, k, v = plan.q(x), plan.k(x), plan.v(x)
            q = self._rotate(q.view(B, T, self.n_heads, d).transpose(1, 2), cos, sin)
            k = self._rotate(k.view(B, T, self.n_kv, d).transpose(1, 2), cos, sin)
        kc[:, :, pos:end] = k
        vc[:, :, pos:end] = v.view(B, T, self.n_kv, d).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, kc[:, :, :end], vc[:, :, :end],
                                           attn_mask=None if bias is None else bias[..., :end],
                                           enable_gqa=self.n_kv != self.n_heads)
        o = o.transpose(1, 2).reshape(B, T, -1)
        h = h + (plan.o(o) if plan.wo is None else _mm(o, plan.wo))
        x = plan.norm2(h)
        if plan.wgu is not None:
            g, u = _mm(x, plan.wgu).chunk(2, dim=-1)
            return h + _mm(F.silu(g) * u, plan.wdown)
        g, u = plan.gate(x), plan.up(x)
        return h + plan.down(F.silu(g) * u)

    def _forward(self, ids, positions, caches, pos: int, bias, rope) -> torch.Tensor:
        """ids [B, T] -> logits of the last position [B, V]."""
        m = self.model.model
        h = m.embed_tokens(ids)
        cos, sin = rope[0][positions][:, None], rope[1][positions][:, None]  # [B, 1, T, D]
        for plan, cache in zip(self.plans, caches):
            h = self._layer(plan, h, cos, sin, cache, pos, bias)
        x = m.norm(h[:, -1:])
        return (self.model.lm_head(x) if self.head_t is None else _mm(x, self.head_t))[:, 0].float()

    def _step(self, tok, position, caches, pos: int, bias, rope):
        return self._forward(tok[:, None], position[:, None], caches, pos, bias, rope)

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
                 sampling: SamplingConfig = SamplingConfig(), generator: torch.Generator | None = None,
                 stopping_criteria=None) -> torch.Tensor:
        """input_ids [B, L] (left-padded; attention_mask 1 on real tokens) -> new ids [B, max_new_tokens].

        `blocked` [V] bool: ids never generated. A row that emits one of `stop_ids` keeps it and is
        padded with `pad_id` afterwards; decoding ends when every row has stopped. `stopping_criteria`:
        `transformers.StoppingCriteria` called after every step as `generate` calls them (ids so far,
        prompt first; a [B] bool result stops those rows)."""
        self._refresh()
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
        key_bias = (None if bool(valid.all()) else  # no padding: a one-token step attends to every cached key
                    torch.zeros(B, 1, 1, total, dtype=dtype, device=dev).masked_fill(~valid[:, None, None], neg))
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
        # prompt + new ids so far, for the stopping criteria (filled in place: no per-step concatenation)
        seen = torch.cat([input_ids, out], dim=1) if stopping_criteria is not None else None
        rope = self._rope_table(total, dev, dtype)
        logits = self._forward(input_ids, positions, caches, 0, prefill_bias, rope)
        for i in range(max_new_tokens):
            if blocked is not None:
                n = min(len(blocked), logits.shape[-1])
                logits[:, :n].masked_fill_(blocked[:n], float("-inf"))
            tok = self._choose(logits, sampling, generator)
            tok = torch.where(done, torch.full_like(tok, pad_id), tok)
            out[:, i] = tok
            done = done | torch.isin(tok, stops)
            if stopping_criteria is not None:
                seen[:, L + i] = tok
                for crit in stopping_criteria:
                    done = done | torch.as_tensor(crit(seen[:, :L + i + 1], None), dtype=torch.bool, device=dev)
            if i + 1 == max_new_tokens or bool(done.all()):
                return out[:, :i + 1]
            position = position + 1
            logits = self.step_fn(tok, position, caches, L + i, key_bias, rope)
        return out
