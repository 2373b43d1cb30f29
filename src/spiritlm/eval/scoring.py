"""Log-likelihood of token sequences under a causal LM: the core of perplexity and pair benchmarks.

For ids x_0..x_{n-1} and a start position s, the score is sum_{t>=s} log p(x_t | x_<t), over the
n - s scored tokens. Everything before s is context (BOS, a modality marker, a story's beginning)::

    ids   = [BOS, [Text], the, cat, sat]      start = 2
    score = log p(the | BOS [Text]) + log p(cat | ... the) + log p(sat | ... cat),  3 tokens

Sequences are right-padded into batches; padded positions are masked out of the attention and the
sum, so batching never changes a score (tested). Computed in fp32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SeqScore:
    logprob: float  # summed natural-log probability of the scored tokens
    n_tokens: int

    @property
    def mean(self) -> float:
        """Token-normalised score ([P] T10 'accuracy-token')."""
        return self.logprob / self.n_tokens if self.n_tokens else float("-inf")


def score_sequences(model, sequences: Sequence[Sequence[int]], starts: Sequence[int], batch_size: int = 8,
                    pad_id: int = 0, desc: str | None = None) -> list[SeqScore]:
    """`SeqScore` of each sequence from its start position (start >= 1: the first token has no context);
    `desc` shows a progress bar over the batches."""
    import torch
    from tqdm.auto import tqdm

    if len(sequences) != len(starts):
        raise ValueError(f"{len(sequences)} sequences but {len(starts)} start positions")
    for seq, s in zip(sequences, starts):
        if not 1 <= s <= len(seq):
            raise ValueError(f"start {s} must be in [1, {len(seq)}] for a sequence of {len(seq)} tokens")
    device = next(model.parameters()).device
    out: list[SeqScore] = []
    with torch.inference_mode():
        for b in tqdm(range(0, len(sequences), batch_size), desc=desc, disable=desc is None, leave=False):
            out += _score_batch(model, sequences[b:b + batch_size], starts[b:b + batch_size], pad_id, device)
    return out


def _score_batch(model, seqs, sts, pad_id: int, device) -> list[SeqScore]:
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)  # [B, L] right-padded
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, :len(s)] = torch.tensor(list(s))
        mask[row, :len(s)] = 1
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()  # [B, L, V]
    logp = torch.log_softmax(logits[:, :-1], dim=-1)  # predicts positions 1..L-1
    target = ids[:, 1:].to(device)  # [B, L-1]
    tok_lp = logp.gather(-1, target[..., None])[..., 0]  # [B, L-1]
    out = []
    for row, (s, st) in enumerate(zip(seqs, sts)):
        lp = tok_lp[row, st - 1:len(s) - 1]
        out.append(SeqScore(float(lp.double().sum()), int(lp.numel())))
    return out
