"""Metric core on hand-computed values: normalisation, WER/CER, pair ties, label accuracy, scoring."""

from __future__ import annotations

import math

import pytest
import torch

from spiritlm.eval.metrics import (
    accuracy,
    cer,
    error_rate,
    majority_label,
    normalize_text,
    pair_accuracy,
    pair_score,
    wer,
)
from spiritlm.eval.scoring import SeqScore, score_sequences


def test_normalize_text():
    assert normalize_text("Well, show me!  cried Robin.") == "well show me cried robin"
    assert normalize_text("'Don't' stop -- now") == "don't stop now"
    assert normalize_text("Cow-skin, 3 times") == "cow skin 3 times"
    assert normalize_text("...") == ""


def test_wer_counts_and_corpus_level():
    # utt 1: 1 deletion of 3 words; utt 2: 1 insertion on 2 words -> 2 / 5
    e = error_rate(["The cat sat.", "a b"], ["the cat", "A b, c"], "word")
    assert (e.substitutions, e.deletions, e.insertions, e.reference_length) == (0, 1, 1, 5)
    assert e.rate == pytest.approx(0.4)
    assert wer(["The cat sat."], ["the cat"]) == pytest.approx(1 / 3)
    assert wer(["Well, show me!"], ["well show me"]) == 0.0
    assert wer(["one two"], [""]) == 1.0


def test_cer_counts_spaces_and_skips_empty_references():
    assert cer(["abc d"], ["abd d"]) == pytest.approx(0.2)  # 1 substitution / 5 characters (space included)
    e = error_rate(["abc", "!!"], ["abcd", "anything"], "char")  # "!!" normalises to nothing: skipped
    assert (e.insertions, e.reference_length) == (1, 3)
    with pytest.raises(ValueError, match="every reference is empty"):
        cer(["?"], ["x"])
    with pytest.raises(ValueError, match="valid: word, char"):
        error_rate(["a"], ["a"], "phone")
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])


def test_pair_scores_and_ties():
    assert [pair_score(-1.0, -2.0), pair_score(-2.0, -2.0), pair_score(-3.0, -2.0)] == [1.0, 0.5, 0.0]
    assert pair_accuracy([(-1.0, -2.0), (-2.0, -2.0), (-3.0, -2.0), (0.0, -1.0)]) == pytest.approx(2.5 / 4)
    with pytest.raises(ValueError):
        pair_accuracy([])


def test_accuracy_and_majority():
    assert accuracy(["happy", "sad", "sad"], ["happy", "happy", "sad"]) == pytest.approx(2 / 3)
    assert majority_label(["sad", "happy", "happy", "sad", "neutral"]) == "sad"  # tie: first seen
    assert majority_label(["a", "b", "b"]) == "b"
    with pytest.raises(ValueError, match="2 predictions but 1"):
        accuracy(["a", "b"], ["a"])


class _Bigram(torch.nn.Module):
    """log p(next | prev) from a fixed table: lets scores be computed by hand."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = torch.nn.Parameter(table.log())

    def forward(self, input_ids, attention_mask=None):
        return type("Out", (), {"logits": self.table[input_ids]})()


def test_score_sequences_by_hand_and_batch_invariant():
    table = torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    model = _Bigram(table)
    seqs, starts = [[0, 1, 1, 2], [2, 0], [0, 0, 1]], [1, 1, 2]
    one = score_sequences(model, seqs, starts, batch_size=1)
    many = score_sequences(model, seqs, starts, batch_size=3)
    assert one == many
    assert one[0].logprob == pytest.approx(math.log(0.25 * 0.8 * 0.1))
    assert one[0].n_tokens == 3
    assert one[1].logprob == pytest.approx(math.log(0.2))
    assert one[2].logprob == pytest.approx(math.log(0.25)) and one[2].n_tokens == 1
    assert SeqScore(-6.0, 3).mean == -2.0
    with pytest.raises(ValueError, match="start 0"):
        score_sequences(model, [[0, 1]], [0])
