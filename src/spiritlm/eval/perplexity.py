"""Text perplexity: how much of its text ability a Spirit LM keeps after speech training.

Continued pretraining on speech can erode the text LM it started from ([P] T4 MMLU: Llama 2 7B
46.2 -> Spirit Base 36.9). Here both models score the same held-out sentences: the Spirit LM as a
text turn `BOS [Text] sentence`, the starting text LM (any `transformers` causal LM folder) as
`BOS sentence`. Only the sentence's tokens are scored (`scoring.score_sequences`); with
`context_words=k` the first k words are given and only the continuation is scored.

Two perplexities per model:

* token perplexity  exp(-sum log p / n_tokens): comparable only when both share the text tokenizer
  (true for a Spirit LM extended from its starting model);
* word perplexity   exp(-sum log p / n_words): tokenizer-independent (n_words from the normalised
  text), so it compares any two models. The ratio spirit / baseline is the headline number.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

from .common import BenchResult, preset_of, select_records, start_benchmark
from .metrics import normalize_text
from .scoring import SeqScore, score_sequences

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerplexityConfig:
    model: str = ""
    manifest: str = ""
    baseline: str = ""  # the starting text LM (a transformers folder); empty: Spirit LM only
    context_words: int = 0  # > 0: score only the continuation after this many words (text continuation)
    split: str = "test"
    limit: int | None = 500
    batch_size: int = 8

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> PerplexityConfig:
        return preset_of(cls, PRESETS, name, overrides)


PRESETS = {"default": PerplexityConfig(), "tiny": PerplexityConfig(limit=3, batch_size=2)}


def unique_texts(records) -> list[str]:
    """Held-out sentences, each once (several speakers read the same sentence)."""
    seen, out = set(), []
    for r in records:
        if r.text not in seen:
            seen.add(r.text)
            out.append(r.text)
    return out


def split_text(text: str, context_words: int) -> tuple[str, str]:
    """(context, continuation): the first `context_words` whitespace words and the rest."""
    words = text.split()
    return " ".join(words[:context_words]), " ".join(words[context_words:])


def context_and_ids(encode, text: str, context_words: int) -> tuple[list[int], int]:
    """Ids of the whole text and how many of them are context. The whole text is encoded at once (the
    tokenizer sees natural word boundaries); if its ids do not start with the context's own ids, the
    two parts are encoded separately and joined."""
    ctx, cont = split_text(text, context_words)
    if not ctx:
        return encode(cont), 0
    whole, head = encode(f"{ctx} {cont}"), encode(ctx)
    if whole[:len(head)] == head:
        return whole, len(head)
    return head + encode(cont), len(head)


def spirit_scores(lm, texts: list[str], batch_size: int, context_words: int = 0) -> list[SeqScore]:
    tok = lm.tokenizer
    head = ([tok.bos_id] if tok.add_bos and tok.bos_id >= 0 else []) + [lm.layout.text_marker_id]
    seqs, starts = [], []
    for t in texts:
        ids, n_ctx = context_and_ids(tok.encode_text, t, context_words)
        seqs.append(head + ids)
        starts.append(len(head) + n_ctx)
    return score_sequences(lm.model, seqs, starts, batch_size, pad_id=max(tok.pad_id, 0), desc="perplexity")


def load_text_lm(path: str):
    """A plain `transformers` causal LM and its tokenizer, from a local folder only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype="float32").eval()
    return model, tok


def baseline_scores(model, tok, texts: list[str], batch_size: int, context_words: int = 0) -> list[SeqScore]:
    start_id = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if start_id is None:
        raise ValueError("the baseline tokenizer has neither a BOS nor an EOS token to start a sequence with")
    seqs, starts = [], []
    for t in texts:
        ids, n_ctx = context_and_ids(lambda s: tok(s, add_special_tokens=False)["input_ids"], t, context_words)
        seqs.append([start_id] + ids)
        starts.append(1 + n_ctx)
    pad = tok.pad_token_id if tok.pad_token_id is not None else start_id
    return score_sequences(model, seqs, starts, batch_size, pad_id=pad, desc="baseline perplexity")


def perplexities(scores: list[SeqScore], n_words: int, prefix: str) -> dict[str, float]:
    total = sum(s.logprob for s in scores)
    n_tok = sum(s.n_tokens for s in scores)
    return {f"{prefix}token_ppl": math.exp(-total / n_tok), f"{prefix}word_ppl": math.exp(-total / n_words),
            f"{prefix}tokens": float(n_tok)}


def evaluate(config: PerplexityConfig, lm=None) -> BenchResult:
    lm, timer = start_benchmark(config, lm)
    k = config.context_words
    texts = [t for t in unique_texts(select_records(config.manifest, config.split, config.limit))
             if normalize_text(split_text(t, k)[1])]
    n_words = sum(len(normalize_text(split_text(t, k)[1]).split()) for t in texts)
    if n_words == 0:
        raise ValueError(f"the selected sentences have no words to score after {k} context words")
    spirit = spirit_scores(lm, texts, config.batch_size, k)
    metrics = {**perplexities(spirit, n_words, ""), "words": float(n_words)}
    items = [{"text": t, "logprob": s.logprob, "tokens": s.n_tokens} for t, s in zip(texts, spirit)]
    if config.baseline:
        model, tok = load_text_lm(config.baseline)
        base = baseline_scores(model, tok, texts, config.batch_size, k)
        metrics |= perplexities(base, n_words, "baseline_")
        metrics["word_ppl_ratio"] = metrics["word_ppl"] / metrics["baseline_word_ppl"]
        for row, s in zip(items, base):
            row |= {"baseline_logprob": s.logprob, "baseline_tokens": s.n_tokens}
    logger.info("text perplexity on %d sentences: word ppl %.2f", len(texts), metrics["word_ppl"])
    return BenchResult("perplexity", metrics, len(texts), asdict(config), items, timer.seconds)


def run(config: PerplexityConfig) -> dict:
    return evaluate(config).to_dict()
