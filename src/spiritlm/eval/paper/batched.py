"""Choice scoring in padded batches with the shared context computed once ([P] §4.1, T10).

A choice item is a context and K candidates (a word and a non-word: empty context; a story and its
two endings). The score of a candidate is the paper's: the sum of log p(token | everything before)
over the candidate's tokens, from a log-softmax over the whole vocabulary (no modality masking), and
the same divided by the candidate's token count (token-normalised, the main table's). Two ways:

* `score_choices_flat`: every (context + candidate) a row of a right-padded batch
  (`eval.scoring.score_sequences`), the context recomputed per candidate;
* `score_choices_shared`: the G contexts of a batch left-padded into one forward pass with the KV
  cache kept, the cache repeated K times, then the G*K candidates right-padded in a second pass that
  attends to it. The first candidate token is predicted by the context's last position. Same numbers
  (tested to 1e-4 in fp32), a context's cost paid once instead of K times.

    ctx  [pad pad c0 c1 c2]          -> cache (G rows)         logits[:, -1] predicts cand[0]
    cand [k0 k1 k2 pad] x K per ctx  -> attends cache + itself  logits[:, t] predicts cand[t + 1]
"""

from __future__ import annotations

from collections.abc import Sequence

from ..scoring import SeqScore, score_sequences

Choice = tuple[Sequence[int], Sequence[Sequence[int]]]  # (context ids, candidate ids ...)


def _params(model) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def cache_kwarg(model) -> str:
    """The forward argument that takes a KV cache: `cache` (transformers >= 5.2x) or `past_key_values`."""
    return "cache" if "cache" in _params(model) else "past_key_values"


def output_cache(out):
    return out.cache if getattr(out, "cache", None) is not None else out.past_key_values


def _check(items: Sequence[Choice]) -> None:
    for i, (ctx, cands) in enumerate(items):
        if not ctx:
            raise ValueError(f"choice {i}: the context must hold at least one token (BOS or a marker)")
        if not cands or any(not c for c in cands):
            raise ValueError(f"choice {i}: every candidate needs at least one token")


def score_choices_flat(model, items: Sequence[Choice], batch_size: int = 8, pad_id: int = 0) -> list[list[SeqScore]]:
    """Per item, the `SeqScore` of each candidate; rows = context + candidate."""
    _check(items)
    seqs, starts, shape = [], [], []
    for ctx, cands in items:
        shape.append(len(cands))
        for c in cands:
            seqs.append(list(ctx) + list(c))
            starts.append(len(ctx))
    flat = score_sequences(model, seqs, starts, batch_size, pad_id)
    out, i = [], 0
    for k in shape:
        out.append(flat[i:i + k])
        i += k
    return out


def score_choices_shared(model, items: Sequence[Choice], batch_size: int = 8, pad_id: int = 0) -> list[list[SeqScore]]:
    """As `score_choices_flat`, with each context run once per batch of `batch_size` items."""
    import torch

    _check(items)
    out: list[list[SeqScore]] = []
    with torch.inference_mode():
        for b in range(0, len(items), batch_size):
            out += _shared_batch(model, items[b:b + batch_size], pad_id)
    return out


def _shared_batch(model, items: Sequence[Choice], pad_id: int) -> list[list[SeqScore]]:
    import torch

    device = next(model.parameters()).device
    g, lc = len(items), max(len(c) for c, _ in items)
    ctx = torch.full((g, lc), pad_id, dtype=torch.long)  # [G, Lc] left-padded
    cmask = torch.zeros((g, lc), dtype=torch.long)
    for r, (c, _) in enumerate(items):
        ctx[r, lc - len(c):] = torch.tensor(list(c))
        cmask[r, lc - len(c):] = 1
    cpos = (cmask.cumsum(-1) - 1).clamp(min=0)
    keep = {"logits_to_keep": 1} if "logits_to_keep" in _params(model) else {}  # only the last position's logits
    first = model(input_ids=ctx.to(device), attention_mask=cmask.to(device), position_ids=cpos.to(device),
                  use_cache=True, **keep)
    ks = [len(cands) for _, cands in items]
    rows = [(r, cand) for r, (_, cands) in enumerate(items) for cand in cands]
    owner = torch.tensor([r for r, _ in rows])
    cache = output_cache(first)
    cache.batch_select_indices(owner.to(device))  # [G*K rows] of the context cache
    last = torch.log_softmax(first.logits[:, -1].float(), -1)[owner.to(device)]  # [N, V] predicts cand[0]
    lk = max(len(c) for _, c in rows)
    cand = torch.full((len(rows), lk), pad_id, dtype=torch.long)  # [N, Lk] right-padded
    kmask = torch.zeros((len(rows), lk), dtype=torch.long)
    for i, (_, c) in enumerate(rows):
        cand[i, :len(c)] = torch.tensor(list(c))
        kmask[i, :len(c)] = 1
    ctx_len = cmask.sum(-1)[owner]  # [N]
    kpos = ctx_len[:, None] + torch.arange(lk)[None]
    mask = torch.cat([cmask[owner], kmask], dim=1)
    logits = model(input_ids=cand.to(device), attention_mask=mask.to(device), position_ids=kpos.to(device),
                   use_cache=True, **{cache_kwarg(model): cache}).logits.float()  # [N, Lk, V]
    logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, cand[:, 1:, None].to(device))[..., 0]  # [N, Lk-1]
    head = last.gather(-1, cand[:, :1].to(device))[:, 0]  # [N]
    scores = []
    for i, (_, c) in enumerate(rows):
        lp = torch.cat([head[i:i + 1], logp[i, :len(c) - 1]])
        scores.append(SeqScore(float(lp.double().sum()), len(c)))
    out, i = [], 0
    for k in ks:
        out.append(scores[i:i + k])
        i += k
    return out
