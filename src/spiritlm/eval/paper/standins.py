"""Synthetic stand-ins of every release, in the published layouts, spoken with our corpus engines.

These are NOT the real benchmarks: the words, sentences, stories, questions and commands come from
small templates here, and the speech from espeak-ng (`spiritlm.data.corpus.engines`). They exercise
`spiritlm eval paper` end to end on our own models, and they make numbers comparable between our
runs, not with the paper's. Layouts written (see `releases`):

    R/zerospeech2021/lexical/dev/{*.wav,gold.csv}     word vs non-word (a vowel changed), 2 voices
    R/zerospeech2021/syntactic/dev/{*.wav,gold.csv}   sentence vs the same with an agreement error
    R/storycloze/{sSC,tSC}/<id>_{correct,incorrect}.wav + {sSC,tSC}.csv
    R/mmlu/data/{dev,test}/arithmetic_{dev,test}.csv
    R/fluent_speech_commands_dataset/{data/*_data.csv, wavs/speakers/<spk>/*.wav}
    R/LibriSpeech/{test-clean,test-other}/<speaker>/<chapter>/{*.flac,*.trans.txt}
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np

from ...audio import write_audio

WORDS = ("water", "garden", "window", "people", "little", "mother", "morning", "paper", "river", "doctor",
         "number", "summer", "table", "yellow", "market", "silver", "basket", "rabbit", "pocket", "winter")
SUBJECTS = (("the dog", "the dogs"), ("my friend", "my friends"), ("the teacher", "the teachers"),
            ("a child", "the children"), ("the farmer", "the farmers"))
VERBS = (("runs", "run"), ("sings", "sing"), ("walks", "walk"), ("reads", "read"), ("sleeps", "sleep"))
NAMES = ("Anna", "Tom", "Maria", "Ben", "Lucy", "Sam", "Kate", "Jack")
PLACES = ("the park", "the beach", "the shop", "the library", "the lake", "the zoo")
INTENTS = (("turn on the lights in the kitchen", "activate lights kitchen"),
           ("switch off the bedroom lights", "deactivate lights bedroom"),
           ("turn up the music", "increase volume none"), ("make it quieter", "decrease volume none"),
           ("bring me my shoes", "bring shoes none"), ("turn the heat down in the washroom", "decrease heat washroom"))


def _voices(n: int):
    from ...data.corpus.engines import make_engine

    engine = make_engine("espeak")
    return engine, engine.voices()[:n]


def _say(engine, voice, text: str) -> np.ndarray:
    from ...data.corpus.styles import get_style

    return engine.synthesize(text, voice, get_style("neutral")).wav


def _nonword(word: str, rng: random.Random) -> str:
    vowels = "aeiou"
    idx = [i for i, c in enumerate(word) if c in vowels]
    i = rng.choice(idx)
    return word[:i] + rng.choice([v for v in vowels if v != word[i]]) + word[i + 1:]


def _write_csv(path: Path, header, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(header)
        w.writerows(rows)


def build_zerospeech(root: Path, n: int, voices: int = 2, seed: int = 0) -> None:
    rng = random.Random(seed)
    engine, vs = _voices(voices)
    lex, syn = root / "zerospeech2021" / "lexical" / "dev", root / "zerospeech2021" / "syntactic" / "dev"
    lrows, srows = [], []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        freq = rng.choice((0, 3, 12, 50, 300))
        (s1, s2), (v1, v2) = rng.choice(SUBJECTS), rng.choice(VERBS)
        good, bad = (f"{s1} {v1} every day", f"{s2} {v1} every day") if i % 2 else \
            (f"{s2} {v2} every day", f"{s1} {v2} every day")
        for v, voice in enumerate(vs):
            for correct, text in ((1, word), (0, _nonword(word, rng))):
                name = f"lex{i:03d}v{v}c{correct}"
                write_audio(lex / f"{name}.wav", _say(engine, voice, text))
                lrows.append((name, voice.speaker, freq, text, i, correct, "", len(text)))
            for correct, text in ((1, good), (0, bad)):
                name = f"syn{i:03d}v{v}c{correct}"
                write_audio(syn / f"{name}.wav", _say(engine, voice, text))
                srows.append((name, voice.speaker, "agreement", "subject_verb", i, correct, text))
    _write_csv(lex / "gold.csv", ("filename", "voice", "frequency", "word", "id", "correct", "phones", "length"), lrows)
    _write_csv(syn / "gold.csv", ("filename", "voice", "type", "subtype", "id", "correct", "transcription"), srows)


STORIES = (  # (four context sentences, true ending, the adversarial false ending of sSC); {n} name, {p} place
    (("{n} wanted to go to {p}.", "{n} asked a friend to come along.", "They took the bus in the morning.",
      "When they got to {p} it started to rain."),
     "They went home and dried their clothes.", "They were happy that it was so sunny."),
    (("{n} was very hungry.", "There was no food in the house.", "{n} walked to the shop.",
      "The shop was open."), "{n} bought some bread and ate it.", "{n} was not hungry at all."),
    (("{n} lost a key at {p}.", "{n} looked everywhere for it.", "A boy came to help.",
      "The boy looked under a bench."), "He found the key and gave it back.", "{n} had never had a key."),
    (("{n} had a test at school.", "{n} studied all night.", "In the morning {n} was tired.",
      "The test was hard."), "But {n} still passed the test.", "{n} did not go to school that year."),
)


def _story(rng: random.Random) -> tuple[list[str], str, str, int]:
    name, place, t = rng.choice(NAMES), rng.choice(PLACES), rng.randrange(len(STORIES))
    ctx, good, bad = STORIES[t]
    fill = {"n": name, "p": place}
    return [c.format(**fill) for c in ctx], good.format(**fill), bad.format(**fill), t


def build_storycloze(root: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    engine, (voice,) = _voices(1)
    stories = [_story(rng) for _ in range(n)]
    for kind in ("sSC", "tSC"):
        rows = []
        for i, (ctx, good, bad, t) in enumerate(stories):
            if kind == "tSC":  # a random ending: the true ending of a story of another kind
                bad = rng.choice([st for st in stories if st[3] != t] or stories)[1]
            right = rng.choice((1, 2))
            ends = (good, bad) if right == 1 else (bad, good)
            sid = f"{kind.lower()}{i:03d}"
            rows.append((sid, *ctx, *ends, right))
            context_wav = _say(engine, voice, " ".join(ctx))
            for tag, end in (("correct", good), ("incorrect", bad)):
                wav = np.concatenate([context_wav, _say(engine, voice, end)])
                write_audio(root / "storycloze" / kind / f"{sid}_{tag}.wav", wav)
        from .releases import SC_COLUMNS

        _write_csv(root / "storycloze" / f"{kind}.csv", SC_COLUMNS, rows)


def build_mmlu(root: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)

    def question():
        a, b = rng.randrange(1, 10), rng.randrange(1, 10)
        wrong = rng.sample([x for x in range(2, 19) if x != a + b], 3)
        opts = [a + b, *wrong]
        rng.shuffle(opts)
        return (f"What is {a} plus {b}?", *map(str, opts), "ABCD"[opts.index(a + b)])

    data = root / "mmlu" / "data"
    _write_csv(data / "dev" / "arithmetic_dev.csv", None, [question() for _ in range(5)])
    _write_csv(data / "test" / "arithmetic_test.csv", None, [question() for _ in range(n)])


def build_intent(root: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    engine, vs = _voices(3)
    fsc = root / "fluent_speech_commands_dataset"
    for split, count in (("train", n_train), ("test", n_test)):
        rows = []
        for i in range(count):
            text, label = INTENTS[i % len(INTENTS)]
            voice = vs[(i + (split == "test")) % len(vs)]
            path = f"wavs/speakers/{voice.speaker}/{split}{i:03d}.wav"
            write_audio(fsc / path, _say(engine, voice, text))
            rows.append((i, path, voice.speaker, text, *label.split(" ")))
        rng.shuffle(rows)
        _write_csv(fsc / "data" / f"{split}_data.csv", ("", "path", "speakerId", "transcription", "action",
                                                         "object", "location"), rows)


LS_SENTENCES = ("the little boy ran to the river", "she opened the window in the morning",
                "my mother made a basket of bread", "the doctor came to the market", "we saw a rabbit in the garden",
                "it was a cold winter night", "he put the paper in his pocket", "the yellow table stood by the door")


def build_librispeech(root: Path, n: int) -> None:
    """test-clean and test-other, `n` utterances each, speaker folders of two espeak voices."""
    engine, vs = _voices(4)
    for s_i, subset in enumerate(("test-clean", "test-other")):
        for v_i, voice in enumerate(vs[2 * s_i:2 * s_i + 2]):
            spk, chap = 100 + 10 * s_i + v_i, 7
            folder = root / "LibriSpeech" / subset / str(spk) / str(chap)
            lines = []
            for u in range(v_i, n, 2):
                text = LS_SENTENCES[u % len(LS_SENTENCES)]
                uid = f"{spk}-{chap}-{u:04d}"
                write_audio(folder / f"{uid}.flac", _say(engine, voice, text))
                lines.append(f"{uid} {text.upper()}")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")


def build_standins(root: str | Path, n: int = 10, intent_train: int = 30, seed: int = 0) -> Path:
    """Every stand-in release under `root` with `n` items per benchmark; returns `root`."""
    root = Path(root)
    build_zerospeech(root, n, seed=seed)
    build_storycloze(root, n, seed)
    build_mmlu(root, n, seed)
    build_intent(root, intent_train, n, seed)
    build_librispeech(root, n)
    return root
