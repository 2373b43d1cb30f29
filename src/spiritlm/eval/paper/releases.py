"""Readers for the public benchmark releases, in the layouts their authors publish.

Each reader takes the folder as unpacked from the release and returns typed items; nothing is
downloaded. Layouts (checked against the releases' own scoring code and READMEs):

* **ZeroSpeech 2021 sLM21** (zerospeech/zerospeech2021, `lexical.py`, `syntactic.py`):
  `lexical/{dev,test}/*.wav` + `gold.csv` with columns `filename,voice,frequency,word,id,correct`
  (plus `phones,length`); `syntactic/{dev,test}/*.wav` + `gold.csv` with
  `filename,voice,type,subtype,id,correct,transcription`. `correct` is 1 for the word / grammatical
  sentence, 0 for the non-word / ungrammatical one; the pair is the same `id` (and type, subtype)
  spoken by the same `voice`. The text versions are the `word` / `transcription` columns.
* **Spoken StoryCloze** (slp-rl/SpokenStoryCloze): `sSC/` and `tSC/` hold, per story, the whole
  spoken story with its true and its false ending, `<story id>_correct.wav` / `_incorrect.wav`; the
  text side is a StoryCloze CSV (`InputStoryid,InputSentence1..4,RandomFifthSentenceQuiz1,
  RandomFifthSentenceQuiz2,AnswerRightEnding`), `sSC.csv` / `tSC.csv` beside the folders.
* **SpeechPrompt v2 intent classification** on Fluent Speech Commands:
  `fluent_speech_commands_dataset/data/{train,valid,test}_data.csv` with columns
  `,path,speakerId,transcription,action,object,location`; the label is `action object location`
  (e.g. `activate lights bedroom`), the class string SpeechPrompt v2 asks the LM to write.
* **MMLU** (hendrycks/test): `data/{dev,test}/<subject>_{dev,test}.csv`, no header, columns
  question, A, B, C, D, answer letter; the 5 dev questions of a subject are its shots.
* **LibriSpeech**: `test-clean/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac` with
  `<speaker>-<chapter>.trans.txt` lines `<utterance id> <TRANSCRIPT>`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

ZR_TASKS = ("lexical", "syntactic")
ZR_SPLITS = ("dev", "test")
SC_KINDS = ("sSC", "tSC")
SC_COLUMNS = ("InputStoryid", "InputSentence1", "InputSentence2", "InputSentence3", "InputSentence4",
              "RandomFifthSentenceQuiz1", "RandomFifthSentenceQuiz2", "AnswerRightEnding")
ZR_COLUMNS = {"lexical": ("filename", "voice", "frequency", "word", "id", "correct"),
              "syntactic": ("filename", "voice", "type", "subtype", "id", "correct", "transcription")}
FSC_COLUMNS = ("path", "speakerId", "transcription", "action", "object", "location")


class ReleaseError(ValueError):
    """A release folder or file does not have the published layout."""


def read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise ReleaseError(f"missing {path}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in required if rows and c not in rows[0]]
    if missing or not rows:
        raise ReleaseError(f"{path}: missing columns {missing or list(required)}; expected {', '.join(required)}")
    return rows


@dataclass(frozen=True)
class ZrPair:
    """One (correct, incorrect) pair of one voice; `key` groups the voices of the same pair."""

    key: str  # lexical: id; syntactic: type/subtype/id
    voice: str
    good_file: str
    bad_file: str
    good_text: str
    bad_text: str
    frequency: int | None = None  # lexical: occurrences of the word in LibriSpeech (0 = oov)
    type: str = ""  # syntactic
    subtype: str = ""


def load_zerospeech(root: str | Path, task: str, split: str = "dev") -> list[ZrPair]:
    """The pairs of `<root>/<task>/<split>/gold.csv`, wav paths relative to that folder."""
    if task not in ZR_TASKS or split not in ZR_SPLITS:
        raise ReleaseError(f"unknown sLM21 set {task}/{split}; valid: {ZR_TASKS} x {ZR_SPLITS}")
    folder = Path(root) / task / split
    rows = read_csv(folder / "gold.csv", ZR_COLUMNS[task])
    text_col = "word" if task == "lexical" else "transcription"
    groups: dict[tuple[str, str], dict[int, dict]] = {}
    for r in rows:
        key = r["id"] if task == "lexical" else f"{r['type']}/{r['subtype']}/{r['id']}"
        side = groups.setdefault((key, r["voice"]), {})
        if int(r["correct"]) in side:
            raise ReleaseError(f"{folder / 'gold.csv'}: two rows with correct={r['correct']} "
                               f"for {key} voice {r['voice']}")
        side[int(r["correct"])] = r
    pairs = []
    for (key, voice), side in groups.items():
        if set(side) != {0, 1}:
            raise ReleaseError(f"{folder / 'gold.csv'}: pair {key} voice {voice} lacks a correct or an incorrect row")
        g, b = side[1], side[0]
        pairs.append(ZrPair(key, voice, g["filename"] + ".wav", b["filename"] + ".wav", g[text_col], b[text_col],
                            int(g["frequency"]) if task == "lexical" else None,
                            g.get("type", ""), g.get("subtype", "")))
    return pairs


@dataclass(frozen=True)
class Story:
    id: str
    context: str  # the four first sentences, space-joined
    good: str  # the true ending
    bad: str
    good_wav: str  # the whole spoken story with the true ending (relative to the release folder)
    bad_wav: str


def load_storycloze(root: str | Path, kind: str) -> list[Story]:
    """Stories of `<root>/<kind>.csv` whose two wavs exist in `<root>/<kind>/`."""
    if kind not in SC_KINDS:
        raise ReleaseError(f"unknown StoryCloze set {kind!r}; valid: {', '.join(SC_KINDS)}")
    root = Path(root)
    stories = []
    for r in read_csv(root / f"{kind}.csv", SC_COLUMNS):
        right = r["AnswerRightEnding"].strip()
        if right not in ("1", "2"):
            raise ReleaseError(f"{kind}.csv story {r['InputStoryid']}: AnswerRightEnding must be 1 or 2, not {right!r}")
        ends = (r["RandomFifthSentenceQuiz1"], r["RandomFifthSentenceQuiz2"])
        good, bad = (ends[0], ends[1]) if right == "1" else (ends[1], ends[0])
        sid = r["InputStoryid"]
        wavs = (f"{kind}/{sid}_correct.wav", f"{kind}/{sid}_incorrect.wav")
        if not all((root / w).is_file() for w in wavs):
            raise ReleaseError(f"story {sid}: missing {' or '.join(str(root / w) for w in wavs)}")
        context = " ".join(r[f"InputSentence{i}"].strip() for i in range(1, 5))
        stories.append(Story(sid, context, good.strip(), bad.strip(), *wavs))
    return stories


@dataclass(frozen=True)
class IntentItem:
    id: str
    wav: str  # relative to the dataset folder
    label: str  # "activate lights bedroom"


def load_intent(root: str | Path, split: str) -> list[IntentItem]:
    """Fluent Speech Commands `data/<split>_data.csv` as SpeechPrompt v2 intent items."""
    if split not in ("train", "valid", "test"):
        raise ReleaseError(f"unknown split {split!r}; valid: train, valid, test")
    rows = read_csv(Path(root) / "data" / f"{split}_data.csv", FSC_COLUMNS)
    labels = [" ".join(r[c].strip() for c in ("action", "object", "location")) for r in rows]
    return [IntentItem(Path(r["path"]).stem, r["path"], label) for r, label in zip(rows, labels)]


@dataclass(frozen=True)
class Question:
    subject: str
    question: str
    choices: tuple[str, str, str, str]
    answer: str  # A, B, C or D


def load_mmlu(root: str | Path, split: str) -> dict[str, list[Question]]:
    """subject -> questions of `<root>/<split>/<subject>_<split>.csv` (root = the release's `data/`)."""
    folder = Path(root) / split
    files = sorted(folder.glob(f"*_{split}.csv"))
    if not files:
        raise ReleaseError(f"no *_{split}.csv in {folder}")
    out: dict[str, list[Question]] = {}
    for f in files:
        subject = f.name[: -len(f"_{split}.csv")]
        with open(f, newline="", encoding="utf-8") as fh:
            for i, row in enumerate(csv.reader(fh)):
                if len(row) != 6 or row[5].strip() not in ("A", "B", "C", "D"):
                    raise ReleaseError(f"{f} row {i + 1}: expected question,A,B,C,D,answer letter; "
                                       f"got {len(row)} fields")
                out.setdefault(subject, []).append(Question(subject, row[0], tuple(row[1:5]), row[5].strip()))
    return out


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: Path
    text: str


def load_librispeech(root: str | Path, subset: str) -> list[Utterance]:
    """Every utterance of `<root>/<subset>` (flac + `*.trans.txt`), sorted by id."""
    folder = Path(root) / subset
    trans = sorted(folder.glob("*/*/*.trans.txt"))
    if not trans:
        raise ReleaseError(f"no <speaker>/<chapter>/*.trans.txt under {folder}")
    out = []
    for t in trans:
        for line in t.read_text(encoding="utf-8").splitlines():
            if line.strip():
                uid, _, text = line.strip().partition(" ")
                audio = t.parent / f"{uid}.flac"
                if not audio.is_file():
                    raise ReleaseError(f"{t}: no audio {audio.name} for {uid}")
                out.append(Utterance(uid, audio, text.strip()))
    return sorted(out, key=lambda u: u.id)
