"""Manifest word times agree with an independent aligner (pocketsphinx forced alignment)."""

from dataclasses import replace

import numpy as np
import pytest

from spiritlm.data.corpus.align_check import ForcedAligner, align_check, boundary_errors, format_report
from spiritlm.data.corpus.builder import build_corpus, get_preset
from spiritlm.data.corpus.manifest import TimedWord
from spiritlm.data.corpus.texts import Sentence

TEXTS = ["The old man walked to the market in the morning.", "She bought a basket of fresh apples and bread.",
         "A small dog was sleeping under the kitchen table.", "They watched the river flow past the stone bridge.",
         "He opened the window and called his brother home.", "We planted seven trees along the garden wall."]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("align")
    sents = [Sentence(f"s{i:010x}", t, "test") for i, t in enumerate(TEXTS)]
    cfg = replace(get_preset("tiny"), engines=("espeak", "flite", "festival", "piper"), hours=1.0, styles=("neutral",),
                  expresso_fraction=0.0, held_out_speakers=(), valid_fraction=0.0, test_fraction=0.0, workers=0)
    build_corpus(replace(cfg, voices_per_sentence=2), out, sentences=sents, progress=False)
    return out / "manifest.jsonl"


def test_boundary_errors():
    ours = [TimedWord("a", 0.10, 0.30), TimedWord("b", 0.30, 0.50)]
    ref = [TimedWord("a", 0.12, 0.30), TimedWord("b", 0.31, 0.45)]
    assert np.allclose(boundary_errors(ours, ref), [0.02, 0.01, 0.0, 0.05])


def test_word_times_agree_with_forced_alignment(corpus):
    report = align_check(corpus, sample=12)
    assert report.checked + report.skipped == 12 and report.checked >= 8
    assert report.overall.mean_ms < 40.0  # measured: ~15-30 ms (10 ms frames)
    assert report.overall.within_50ms > 0.85
    assert set(report.per_engine) <= {"espeak", "flite", "festival", "piper"}
    assert "mean" in format_report(report)


def test_aligner_rejects_unknown_words():
    with pytest.raises(ValueError, match="not in the pocketsphinx dictionary"):
        ForcedAligner().align(np.zeros(16000, dtype=np.float32), ["hello", "qxzvbn"])
