"""`spiritlm eval paper`: release readers, ZeroSpeech rules, shared-context scoring, the resumable run."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from spiritlm.eval.paper import releases, zerospeech
from spiritlm.eval.paper.runner import PaperConfig, detect, run_paper, shared_prefix

ASSETS = Path(__file__).parent / "assets" / "paper_releases"
pytestmark = pytest.mark.usefixtures("one_thread")


def _speak(text: str) -> np.ndarray:
    from spiritlm.data.corpus.engines import make_engine
    from spiritlm.data.corpus.styles import get_style

    engine = make_engine("espeak")
    return engine.synthesize(text, engine.voices()[0], get_style("neutral")).wav


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """The fixture releases with their audio spoken by espeak-ng (whole stories share the context audio)."""
    from spiritlm.audio import write_audio

    root = tmp_path_factory.mktemp("releases") / "R"
    shutil.copytree(ASSETS, root)
    for task, col in (("lexical", "word"), ("syntactic", "transcription")):
        folder = root / "zerospeech2021" / task / "dev"
        for r in csv.DictReader(open(folder / "gold.csv")):
            write_audio(folder / f"{r['filename']}.wav", _speak(r[col]))
    for s_kind in releases.SC_KINDS:
        for r in csv.DictReader(open(root / "storycloze" / f"{s_kind}.csv")):
            ctx = _speak(" ".join(r[f"InputSentence{i}"] for i in range(1, 5)))
            ends = (r["RandomFifthSentenceQuiz1"], r["RandomFifthSentenceQuiz2"])
            good = ends[int(r["AnswerRightEnding"]) - 1]
            for tag, end in (("correct", good), ("incorrect", ends[1] if good == ends[0] else ends[0])):
                wav = np.concatenate([ctx, _speak(end)])
                write_audio(root / "storycloze" / s_kind / f"{r['InputStoryid']}_{tag}.wav", wav)
    fsc = root / "fluent_speech_commands_dataset"
    for split in ("train", "test"):
        for r in csv.DictReader(open(fsc / "data" / f"{split}_data.csv")):
            write_audio(fsc / r["path"], _speak(r["transcription"]))
    ls = root / "LibriSpeech" / "test-clean" / "19" / "198"
    for line in (ls / "19-198.trans.txt").read_text().splitlines():
        uid, text = line.split(" ", 1)
        write_audio(ls / f"{uid}.flac", _speak(text.lower()))
    return root


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    from spiritlm.checkpoints.tiny_root import write_tiny_root
    from spiritlm.eval.common import load_spiritlm

    root = write_tiny_root(tmp_path_factory.mktemp("paperlm"), official_vocab=True)
    return load_spiritlm(str(root / "spiritlm_model" / "spirit-lm-base-7b"))


def test_frequency_bands_follow_the_scripts_left_closed_bins():
    assert [zerospeech.band(f) for f in (0, 1, 4, 5, 19, 20, 99, 100, 10**6)] == \
        ["oov", "1-5", "1-5", "6-20", "6-20", "21-100", "21-100", ">100", ">100"]
    with pytest.raises(ValueError, match=">= 0"):
        zerospeech.band(-1)


def test_readers_on_the_published_layouts(data_root):
    lex = releases.load_zerospeech(data_root / "zerospeech2021", "lexical", "dev")
    assert [(p.key, p.voice, p.good_text, p.bad_text, p.frequency) for p in lex[:3]] == \
        [("1", "V1", "water", "wotor", 0), ("1", "V2", "water", "wotor", 0), ("2", "V1", "garden", "gurden", 5)]
    assert lex[0].good_file == "aaWaterV1.wav" and lex[0].bad_file == "aaWotorV1.wav"
    syn = releases.load_zerospeech(data_root / "zerospeech2021", "syntactic", "dev")
    assert {(p.key, p.type) for p in syn} == {("agreement/subject_verb/1", "agreement"),
                                              ("island/wh_island/1", "island")}
    sc = releases.load_storycloze(data_root / "storycloze", "sSC")
    assert (sc[1].id, sc[1].good, sc[1].bad) == ("sSC-b2", "They ate the bread.", "The sky was green.")
    assert sc[0].context == "Tom went to the park. He saw a dog. The dog was lost. Tom read its collar."
    assert [i.label for i in releases.load_intent(data_root / "fluent_speech_commands_dataset", "test")] == \
        ["activate lights bedroom", "increase volume none"]
    mmlu = releases.load_mmlu(data_root / "mmlu" / "data", "test")
    assert mmlu["arithmetic"][1].question == "Which, of these, is even?" and mmlu["arithmetic"][1].answer == "D"
    ls = releases.load_librispeech(data_root / "LibriSpeech", "test-clean")
    assert [(u.id, u.text) for u in ls] == [("19-198-0000", "NORTHANGER ABBEY"),
                                            ("19-198-0001", "THIS LITTLE WORK WAS FINISHED")]
    assert detect(data_root) == {"swuggy": data_root / "zerospeech2021", "sblimp": data_root / "zerospeech2021",
                                 "ssc": data_root / "storycloze", "tsc": data_root / "storycloze",
                                 "mmlu": data_root / "mmlu" / "data",
                                 "intent": data_root / "fluent_speech_commands_dataset",
                                 "ls-clean-asr": data_root / "LibriSpeech"}


def test_readers_name_the_layout_problem(tmp_path):
    (tmp_path / "lexical" / "dev").mkdir(parents=True)
    (tmp_path / "lexical" / "dev" / "gold.csv").write_text("filename,voice,word\nx,V1,a\n")
    with pytest.raises(releases.ReleaseError, match="missing columns.*frequency"):
        releases.load_zerospeech(tmp_path, "lexical", "dev")
    with pytest.raises(releases.ReleaseError, match="valid"):
        releases.load_storycloze(tmp_path, "xSC")
    with pytest.raises(ValueError, match="valid: swuggy"):
        run_paper(PaperConfig("m", str(tmp_path), str(tmp_path / "o"), only="wuggy"))


def _cache(out: Path, name: str, rows: list[tuple]) -> None:
    (out / "items").mkdir(parents=True, exist_ok=True)
    with open(out / "items" / f"{name}.jsonl", "w") as f:
        for key, g, b, gn, bn in rows:
            f.write(json.dumps({"key": key, "good": g, "bad": b, "good_n": gn, "bad_n": bn}) + "\n")


def test_hand_computed_zerospeech_scores(data_root, lm, tmp_path, monkeypatch):
    """Scores placed in the per-item cache (the run resumes from it, scoring nothing): ties count 0.5,
    voices are averaged per pair, then pairs; bands, in-vocab/OOV and token normalisation as in the docstring."""
    import spiritlm.eval.paper.runner as runner

    out = tmp_path / "out"
    _cache(out, "swuggy_S", [("1|V1", -4, -6, 2, 3), ("1|V2", -5, -5, 1, 1), ("2|V1", -3, -2, 3, 1),
                             ("2|V2", -1, -2, 1, 1), ("3|V1", -9, -8, 3, 2), ("3|V2", -8, -9, 2, 3)])
    _cache(out, "swuggy_T", [("1|V1", -1, -2, 1, 1), ("2|V1", -2, -2, 1, 2), ("3|V1", -6, -4, 3, 1)])
    monkeypatch.setattr(runner, "score_choices_shared", lambda *a, **k: pytest.fail("nothing left to score"))
    res = run_paper(PaperConfig("tiny", str(data_root), str(out), only="swuggy", progress=False), lm=lm)
    s = res["benchmarks"]["swuggy"]["S"]
    assert s["raw"] == pytest.approx({"all": 1.75 / 3, "invocab": 0.5, "oov": 0.75, "band oov": 0.75,
                                      "band 6-20": 0.5, "band >100": 0.5})
    assert s["token"] == pytest.approx({"all": 2 / 3, "invocab": 0.75, "oov": 0.5, "band oov": 0.5,
                                        "band 6-20": 1.0, "band >100": 0.5})
    t = res["benchmarks"]["swuggy"]["T"]
    assert (t["raw"]["all"], t["token"]["all"], t["n_pairs"]) == (pytest.approx(1.5 / 3), pytest.approx(2 / 3), 3)
    report = (out / "report.md").read_text()
    assert "| ours: tiny | 66.7 | 66.7 | - |" in report and "| 50.0/66.7 | 58.3/66.7 | -/- |" in report
    assert "| Spirit LM Base (paper) | 80.3 | 69.0 | 73.3 |" in report
    assert (out / "directions.svg").read_text().startswith("<svg")


def test_shared_context_scoring_equals_flat_rows():
    import random

    import torch
    from transformers import LlamaForCausalLM

    from spiritlm.eval.paper.batched import score_choices_flat, score_choices_shared
    from spiritlm.lm.tiny import tiny_llama_config
    from spiritlm.vocab import TokenLayout

    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config(TokenLayout.base(512))).eval()
    rng = random.Random(1)
    items = [([1] + [rng.randrange(3, 900) for _ in range(rng.randrange(0, 15))],
              [[rng.randrange(3, 900) for _ in range(rng.randrange(1, 9))] for _ in range(rng.choice((2, 4)))])
             for _ in range(9)]
    flat, shared = score_choices_flat(model, items, 4), score_choices_shared(model, items, 4)
    for f, s, (_, cands) in zip(flat, shared, items):
        assert [x.n_tokens for x in s] == [len(c) for c in cands] == [x.n_tokens for x in f]
        assert [x.logprob for x in s] == pytest.approx([x.logprob for x in f], abs=1e-4)
    with pytest.raises(ValueError, match="at least one token"):
        score_choices_shared(model, [([1], [[]])])


def test_shared_prefix_of_two_recordings():
    a = np.zeros(20000, np.float32)
    b = a.copy()
    b[13000:] = 0.5
    assert shared_prefix(a, b) == 12800  # rounded down to a 40 ms frame
    b[5000:] = 0.5
    assert shared_prefix(a, b) == 0  # under 0.5 s: no usable shared context


def test_mmlu_and_intent_prompts(lm):
    from spiritlm.eval.likelihood import Segmenter
    from spiritlm.eval.paper.fewshot_text import intent_prompt, mmlu_prompt

    q = releases.Question("high_school_math", "2+2?", ("1", "4", "3", "5"), "B")
    shot = releases.Question("high_school_math", "1+1?", ("2", "3", "4", "5"), "A")
    assert mmlu_prompt([shot], q) == ("The following are multiple choice questions (with answers) about high school "
                                      "math.\n\n1+1?\nA. 2\nB. 3\nC. 4\nD. 5\nAnswer: A\n\n"
                                      "2+2?\nA. 1\nB. 4\nC. 3\nD. 5\nAnswer:")
    seg = Segmenter(lm)
    lay = lm.layout
    ids = intent_prompt(seg, [([lay.unit_id("hubert", 5)], "activate lights bedroom")], [lay.unit_id("hubert", 7)])
    assert ids == [1, lay.speech_marker_id, lay.unit_id("hubert", 5), lay.text_marker_id,
                   *seg.text(" A:activate lights bedroom"), lay.speech_marker_id, lay.unit_id("hubert", 7),
                   lay.text_marker_id, *seg.text(" A:")]


def test_eval_paper_end_to_end_and_resume(data_root, lm, tmp_path, monkeypatch):
    import spiritlm.eval.paper.runner as runner
    from spiritlm.eval.likelihood import Segmenter
    from spiritlm.eval.scoring import score_sequences

    cfg = PaperConfig("tiny", str(data_root), str(tmp_path / "o"), intent_shots=2, asr_max_new=4, progress=False)
    first = run_paper(cfg, lm=lm)
    assert set(first["benchmarks"]) == {"swuggy", "sblimp", "tsc", "ssc", "mmlu", "intent", "ls-clean-asr"}
    asr = first["benchmarks"]["ls-clean-asr"]
    assert (asr["n"], asr["shots_min"], asr["shots_max"]) == (2, 1, 1)  # the other utterance of the subset
    assert first["benchmarks"]["ssc"]["S2T"]["n"] == 2 and first["benchmarks"]["mmlu"]["n"] == 2
    # one cached item against a direct score of [BOS, [Text]] + story context, then the ending
    seg = Segmenter(lm)
    story = releases.load_storycloze(data_root / "storycloze", "tSC")[0]
    row = json.loads((tmp_path / "o" / "items" / "tsc_T.jsonl").read_text().splitlines()[0])
    ctx = seg.head() + [seg.marker("t")] + seg.text(story.context)
    direct = score_sequences(lm.model, [ctx + seg.text(story.good)], [len(ctx)])[0]
    assert (row["good"], row["good_n"]) == (pytest.approx(direct.logprob, abs=1e-4), direct.n_tokens)
    monkeypatch.setattr(runner, "score_choices_shared", lambda *a, **k: pytest.fail("resumed run rescored"))
    monkeypatch.setattr(runner, "intent_predict", lambda *a, **k: pytest.fail("resumed run regenerated"),
                        raising=False)
    monkeypatch.setattr(lm, "generate_batch", lambda *a, **k: pytest.fail("resumed run re-transcribed"))
    assert run_paper(cfg, lm=lm) == first
