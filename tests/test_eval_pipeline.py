"""Resynthesis / TTS / ASR / perplexity on a tiny random checkpoints root and a hand-made manifest.

The referee is a test double (a transcriber that always hears "i love it"), so every error rate is
known exactly; Whisper itself is tested in test_eval_whisper.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spiritlm.eval import asr, perplexity, resynthesis, tts
from spiritlm.eval.common import load_spiritlm, select_records
from spiritlm.eval.fewshot import Shot, asr_inputs, cut_transcript, tts_inputs
from spiritlm.eval.metrics import error_rate
from spiritlm.eval.scoring import score_sequences
from spiritlm.units import SpeechUnits

# (text, split, style, sentiment); test texts chosen so that "i love it" scores CER 3/15, WER 1/5
RECORDS = [("The cat sat.", "train", "neutral", "neutral"), ("A dog ran!", "train", "happy", "positive"),
           ("I love it.", "test", "happy", "positive"), ("I love", "test", "sad", "negative"),
           ("Bad day.", "valid", "angry", "negative")]


def write_manifest(folder, records=RECORDS, seconds: float = 1.0):
    from spiritlm.audio import write_audio
    from spiritlm.data.corpus.manifest import ManifestWriter, Sentiment, TimedWord, Utterance, text_words

    rng = np.random.default_rng(0)
    path = folder / "manifest.jsonl"
    with ManifestWriter(path) as w:
        for i, (text, split, style, senti) in enumerate(records):
            write_audio(folder / f"u{i}.wav", (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32))
            words = text_words(text)
            timed = tuple(TimedWord(x, seconds * j / len(words), seconds * (j + 1) / len(words))
                          for j, x in enumerate(words))
            compound = {"positive": 0.6, "negative": -0.6, "neutral": 0.0}[senti]
            w.append(Utterance(f"u{i}", f"u{i}.wav", text, timed, (), "spk", "espeak", style,
                               Sentiment(senti, compound), seconds, split))
    return path


class HearsILoveIt:
    def __init__(self):
        self.calls = 0

    def transcribe(self, wav):
        self.calls += 1
        return "i love it"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from spiritlm.checkpoints.tiny_root import write_tiny_root

    return write_tiny_root(tmp_path_factory.mktemp("evalroot"), official_vocab=True)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return str(write_manifest(tmp_path_factory.mktemp("evaldata")))


@pytest.fixture(scope="module")
def base_lm(root):
    return load_spiritlm(str(root / "spiritlm_model" / "spirit-lm-base-7b"))


def test_select_records_and_errors(manifest):
    assert [r.id for r in select_records(manifest, "test")] == ["u2", "u3"]
    assert [r.id for r in select_records(manifest, "all", limit=2)] == ["u0", "u1"]
    with pytest.raises(ValueError, match="valid: train, valid, test, all"):
        select_records(manifest, "dev")
    with pytest.raises(ValueError, match="needs manifest, model"):
        resynthesis.evaluate(resynthesis.ResynthesisConfig())
    with pytest.raises(ValueError, match="valid: default, tiny"):
        resynthesis.ResynthesisConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown TTSConfig field"):
        tts.TTSConfig.preset("tiny", shotz=3)


def test_resynthesis_exact_error_rates(base_lm, manifest):
    cfg = resynthesis.ResynthesisConfig.preset("tiny", manifest=manifest, reference=True)
    asr_double = HearsILoveIt()
    res = resynthesis.evaluate(cfg, transcriber=asr_double, lm=base_lm)
    assert res.n_items == 2 and asr_double.calls == 4  # resynthesis + original, per item
    assert res.metrics["cer"] == pytest.approx(3 / 15) and res.metrics["wer"] == pytest.approx(1 / 5)
    assert res.metrics["original_cer"] == pytest.approx(3 / 15)
    for row in res.items:  # raw units: 25 per second, 640 samples each, no duration prediction
        assert abs(row["seconds_out"] - row["seconds_in"]) <= 0.08


def test_fewshot_prompt_formats(base_lm):
    shot = Shot("the cat", SpeechUnits(np.array([5, 5, 7])))
    query = SpeechUnits(np.array([9]))
    p = base_lm.build_prompt(tts_inputs([shot], "a dog"), "speech")
    assert p.text == "[Text] the cat [Speech][Hu5][Hu7][Text] a dog [Speech]"
    p = base_lm.build_prompt(asr_inputs([shot], query), "text")
    assert p.text == "[Speech][Hu5][Hu7][Text]<START Transcript> the cat <END>[Speech][Hu9][Text]<START Transcript>"
    p = base_lm.build_prompt(asr_inputs([], query, flags=False), "text")
    assert p.text == "[Speech][Hu9][Text]"
    assert cut_transcript(" the cat sat <END> [Speech] more") == "the cat sat"
    assert cut_transcript("a b <START Transcript> c") == "a b"


def test_tts_runs_and_scores_what_it_heard(base_lm, manifest):
    cfg = tts.TTSConfig.preset("tiny", manifest=manifest)
    res = tts.evaluate(cfg, transcriber=HearsILoveIt(), lm=base_lm)
    assert res.n_items == 2 and res.config["shot_ids"][0] in ("u0", "u1")
    assert all(r["new_tokens"] <= cfg.min_new_tokens_budget for r in res.items)
    hyps = [r["transcript"] for r in res.items]
    assert hyps == ["i love it" if not r["problem"] else "" for r in res.items]
    assert res.metrics["cer"] == pytest.approx(error_rate(["I love it.", "I love"], hyps, "char").rate)


def test_asr_transcript_is_cut_generation(base_lm, manifest):
    res = asr.evaluate(asr.ASRConfig.preset("tiny", manifest=manifest), lm=base_lm)
    assert res.n_items == 2
    for row in res.items:
        assert row["transcript"] == cut_transcript(row["generated"])
        assert row["finish_reason"] in ("eos", "modality_switch", "length")
    refs, hyps = [r["text"] for r in res.items], [r["transcript"] for r in res.items]
    assert res.metrics["wer"] == pytest.approx(error_rate(refs, hyps, "word").rate)


def test_perplexity_matches_hand_scoring(base_lm, manifest, root):
    base_dir = str(root / "spiritlm_model" / "spirit-lm-base-7b")
    cfg = perplexity.PerplexityConfig.preset("tiny", manifest=manifest, split="all", baseline=base_dir)
    res = perplexity.evaluate(cfg, lm=base_lm)
    assert res.n_items == 3 and res.metrics["words"] == 3 + 3 + 3  # the cat sat / a dog ran / i love it
    tok = base_lm.tokenizer
    seqs = [[tok.bos_id, base_lm.layout.text_marker_id] + tok.encode_text(t)
            for t in ("The cat sat.", "A dog ran!", "I love it.")]
    scores = score_sequences(base_lm.model, seqs, [2, 2, 2])
    total = sum(s.logprob for s in scores)
    assert res.metrics["word_ppl"] == pytest.approx(math.exp(-total / 9), rel=1e-5)
    assert res.metrics["token_ppl"] == pytest.approx(math.exp(-total / sum(s.n_tokens for s in scores)), rel=1e-5)
    # the baseline (the same weights read as a plain transformers model, no [Text] marker) is scored too
    assert res.metrics["baseline_tokens"] == res.metrics["tokens"]
    assert res.metrics["word_ppl_ratio"] == pytest.approx(res.metrics["word_ppl"] / res.metrics["baseline_word_ppl"])


STYLES4 = ["neutral", "happy", "sad", "angry"]


@pytest.fixture(scope="module")
def referee(tmp_path_factory):
    import json

    from spiritlm.checkpoints.tiny_root import write_tiny_style
    from spiritlm.eval.style import StyleReferee

    folder = write_tiny_style(tmp_path_factory.mktemp("style") / "clf", num_labels=4)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["id2label"] = dict(enumerate(STYLES4))
    cfg["label2id"] = {s: i for i, s in enumerate(STYLES4)}
    (folder / "config.json").write_text(json.dumps(cfg))
    return StyleReferee(str(folder))


def test_style_referee_is_argmax_of_mean_logits(referee):
    wav = (0.1 * np.random.default_rng(1).standard_normal(40000)).astype(np.float32)  # 2.5 s -> 3 seconds' logits
    logits = referee.classifier.forward_chunk(wav).logits
    assert logits.shape == (3, 4)
    assert referee.classify(wav) == STYLES4[int(logits.mean(0).argmax())]
    assert referee.classify(np.zeros(100, np.float32)) is None
    with pytest.raises(ValueError, match="--classifier"):
        from spiritlm.eval.style import StyleReferee

        StyleReferee("")


def test_style_benchmark(base_lm, manifest, referee):
    from spiritlm.eval import style

    res = style.evaluate(style.StyleConfig.preset("tiny", manifest=manifest), lm=base_lm, referee=referee)
    assert res.n_items == 2 and res.metrics["chance"] == 0.25 and res.config["labels"] == STYLES4
    hits = sum(r["pred"] == r["style"] for r in res.items)
    assert res.metrics["accuracy"] == hits / 2 and res.metrics["x_chance"] == hits / 2 / 0.25
    assert all(r["prompt_pred"] in STYLES4 for r in res.items)


def test_balanced_records_round_robin(manifest):
    from spiritlm.eval.sentiment import balanced_records

    recs = select_records(manifest, "all")  # neutral u0; positive u1, u2; negative u3, u4
    assert [r.id for r in balanced_records(recs, None)] == ["u1", "u0", "u3"]
    assert [r.id for r in balanced_records(recs, 2)] == ["u1", "u0"]
    with pytest.raises(ValueError, match="balanced=False"):
        balanced_records(select_records(manifest, "test"), None)


class _Says:
    def __init__(self, label):
        self.label = label

    def classify(self, wav):
        return self.label


def test_sentiment_judges():
    from spiritlm.eval.sentiment import Judge, SentimentConfig

    judge = Judge(SentimentConfig(judge="style"), None, _Says("sad"))
    assert judge.speech(np.ones(16000, np.float32)) == ("negative", "sad")
    assert Judge(SentimentConfig(judge="style"), None, _Says("whisper")).speech(np.ones(10)) == (None, "whisper")
    assert judge.speech(np.zeros(0)) == (None, "")
    heard = Judge(SentimentConfig(), HearsILoveIt(), None)
    assert heard.speech(np.ones(16000, np.float32)) == ("positive", "i love it")  # VADER: love -> positive
    assert heard.text("This is a terrible, awful day.") == "negative"


@pytest.mark.parametrize("direction", ["t2s", "s2t"])
def test_sentiment_benchmark_and_stsp_predictions(base_lm, manifest, tmp_path, direction):
    import json

    from spiritlm.eval import sentiment

    pred = tmp_path / "pred.jsonl"
    cfg = sentiment.SentimentConfig.preset("tiny", manifest=manifest, direction=direction, pred_file=str(pred))
    res = sentiment.evaluate(cfg, lm=base_lm, transcriber=HearsILoveIt())
    assert res.benchmark == f"sentiment_{direction}" and res.n_items == 2
    assert res.metrics["majority_rate"] == 0.5  # test split: one positive, one negative
    assert res.metrics["accuracy"] == sum(r["pred"] == r["sentiment"] for r in res.items) / 2
    lines = [json.loads(x) for x in pred.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["u2", "u3"] and set(lines[0]) == {"id", "pred", "generation"}
    with pytest.raises(ValueError, match="valid: t2s, s2t, t2t, s2s"):
        sentiment.evaluate(sentiment.SentimentConfig.preset("tiny", manifest=manifest, direction="x"), lm=base_lm)


CLOZE = [("the old man walked home slowly", "test", "neutral", "neutral"),
         ("a small bird sang all morning", "test", "happy", "positive"),
         ("we never saw the river again", "test", "sad", "negative")]


def test_segmenter_sequences(base_lm):
    from spiritlm.eval.likelihood import Segmenter

    seg, lay = Segmenter(base_lm), base_lm.layout
    bos = base_lm.tokenizer.bos_id
    assert seg.sequence([7, 8], "t", [40000], "s") == ([bos, lay.text_marker_id, 7, 8, lay.speech_marker_id, 40000],
                                                        5)
    assert seg.sequence([7], "t", [9, 10], "t") == ([bos, lay.text_marker_id, 7, 9, 10], 3)
    assert seg.sequence([], "s", [32010], "s") == ([bos, lay.speech_marker_id, 32010], 2)


def test_cloze_by_hand(base_lm, tmp_path):
    from spiritlm.data.corpus.manifest import text_words
    from spiritlm.eval import likelihood
    from spiritlm.eval.metrics import pair_score

    manifest = str(write_manifest(tmp_path, CLOZE, seconds=1.2))
    cfg = likelihood.LikelihoodConfig.preset("tiny", manifest=manifest, directions="T,S2T,T2S")
    res = likelihood.evaluate(cfg, lm=base_lm)
    assert res.n_items == 3 * 3 and set(res.metrics) == {f"cloze_{d}_acc{s}" for d in ("T", "S2T", "T2S")
                                                         for s in ("", "_token")}
    triples = likelihood.cloze_items(select_records(manifest, "test"), 0)
    tok, lay = base_lm.tokenizer, base_lm.layout
    expected = []
    for rec, other, k, k2 in triples:
        w, w2 = text_words(rec.text), text_words(other.text)
        ctx = [tok.bos_id, lay.text_marker_id] + tok.encode_text(" ".join(w[:k]))
        good, bad = score_sequences(base_lm.model, [ctx + tok.encode_text(" ".join(w[k:])),
                                                    ctx + tok.encode_text(" ".join(w2[k2:]))], [len(ctx)] * 2)
        expected.append(pair_score(good.logprob, bad.logprob))
    assert res.metrics["cloze_T_acc"] == pytest.approx(sum(expected) / 3)
    with pytest.raises(ValueError, match="valid: T, S, T2S, S2T"):
        likelihood.evaluate(likelihood.LikelihoodConfig.preset("tiny", manifest=manifest, directions="X"),
                            lm=base_lm)


def test_pairs_text_and_speech(base_lm, tmp_path):
    import json

    from spiritlm.audio import write_audio
    from spiritlm.eval import likelihood

    rng = np.random.default_rng(3)
    rows = []
    for i, (kind, good, bad) in enumerate([("lexical", "garden", "strimbet"), ("syntactic", "the dogs run",
                                                                               "the dogs runs")]):
        items = {}
        for name, text in (("good", good), ("bad", bad)):
            write_audio(tmp_path / "wav" / f"{i}{name}.wav", (0.1 * rng.standard_normal(12000)).astype(np.float32))
            items[name] = {"text": text, "audio": f"wav/{i}{name}.wav", "duration": 0.75, "words": []}
        rows.append({"id": f"p{i}", "kind": kind, "category": "word", **items})
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = likelihood.evaluate(likelihood.LikelihoodConfig.preset("tiny", pairs=str(tmp_path / "pairs.jsonl")),
                              lm=base_lm)
    assert set(res.metrics) == {f"{k}_{m}_acc{s}" for k in ("lexical", "syntactic") for m in ("T", "S")
                                for s in ("", "_token")}
    row = next(r for r in res.items if r["task"] == "lexical_T")
    tok, lay = base_lm.tokenizer, base_lm.layout
    head = [tok.bos_id, lay.text_marker_id]
    g, b = score_sequences(base_lm.model, [head + tok.encode_text(w) for w in ("garden", "strimbet")], [2, 2])
    assert row["good"] == pytest.approx(g.logprob) and row["bad_token"] == pytest.approx(b.mean)
    assert res.metrics["lexical_T_acc"] == (1.0 if g.logprob > b.logprob else 0.0)


def test_referee_breakdowns(manifest):
    from spiritlm.eval import referee

    res = referee.evaluate(referee.RefereeConfig.preset("tiny", manifest=manifest), transcriber=HearsILoveIt())
    assert res.metrics == pytest.approx({"cer": 3 / 15, "wer": 1 / 5, "cer_engine_espeak": 3 / 15,
                                         "cer_style_happy": 0.0, "cer_style_sad": 3 / 6})


def test_engine_filter(tmp_path):
    from spiritlm.eval import referee
    from spiritlm.eval.common import engine_filter

    assert engine_filter("") is None and engine_filter(" , ") is None
    m = write_manifest(tmp_path)
    assert [r.id for r in select_records(m, "all", keep=engine_filter("flite, espeak"))] == [f"u{i}" for i in range(5)]
    with pytest.raises(ValueError, match="no records"):
        referee.evaluate(referee.RefereeConfig.preset("tiny", manifest=str(m), engines="flite"),
                         transcriber=HearsILoveIt())


def test_perplexity_of_continuation(base_lm, manifest):
    from spiritlm.eval.perplexity import context_and_ids, split_text

    assert split_text("The cat sat.", 1) == ("The", "cat sat.")
    enc = base_lm.tokenizer.encode_text
    ids, n = context_and_ids(enc, "The cat sat.", 1)
    assert ids[:n] == enc("The") and n == len(enc("The"))
    res = perplexity.evaluate(perplexity.PerplexityConfig.preset("tiny", manifest=manifest, split="all",
                                                                 context_words=2), lm=base_lm)
    assert res.n_items == 3 and res.metrics["words"] == 3  # "sat" / "ran" / "it": the words after two
    head = [base_lm.tokenizer.bos_id, base_lm.layout.text_marker_id]
    seqs = [head + context_and_ids(enc, t, 2)[0] for t in ("The cat sat.", "A dog ran!", "I love it.")]
    starts = [len(head) + context_and_ids(enc, t, 2)[1] for t in ("The cat sat.", "A dog ran!", "I love it.")]
    total = sum(s.logprob for s in score_sequences(base_lm.model, seqs, starts))
    assert res.metrics["word_ppl"] == pytest.approx(math.exp(-total / 3), rel=1e-5)
