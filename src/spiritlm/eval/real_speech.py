"""Unit quality on real recorded speech: pocketsphinx-testdata's utterances, phone-labelled by forced alignment.

The corpus the units are trained and scored on is synthetic (flite, festival, espeak-ng, Piper), so its
held-out voices still come from text-to-speech engines. Debian's `pocketsphinx-testdata` package ships a
few real recordings with their transcripts (under `/usr/share/pocketsphinx/test/data`):

* `librivox/`: 5 LibriVox utterances of *Sense and Sensibility* (one reader, 24.7 s);
* `cards/`: 5 short utterances of card names ("eight of spades four of clubs ...", 9.7 s).

Each is labelled with pocketsphinx's forced alignment (its en-us acoustic model and CMU dictionary, 10 ms
frames): the transcript's words are aligned, then a second pass aligns their phones. The phones are
ARPAbet, so they map onto the unit encoder's inventory through the flite/festival table of
`speech.phones` (stress dropped, `SIL` -> `sil`); filler phones (`+NSN+`, ...) stay unlabelled.

    encode, hop = kmeans_encoder("runs/kmeans-phone/kmeans")
    real_speech_quality(encode, hop)["all"].pnmi

`real_speech_quality` scores every frame (silence included, as "all"), the frames of speech only
("no-silence", comparable to `evaluate_manifest` on the corpus, whose phone timings cover no silence),
the same units shuffled over the frames ("chance"), and each set on its own. Each unit frame takes the
phone covering its centre. The sample is small (about 855 frames at 25 Hz against up to 200 units), so
the plug-in scores are biased upward: shuffled units still reach PNMI ~0.4. Read "all" against "chance",
not against the corpus's scores on ~13,000 frames.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..speech.phones import SILENCE, to_inventory
from .unit_quality import POCKETSPHINX_TESTDATA, UnitQuality, chance_quality, unit_quality

logger = logging.getLogger(__name__)

TESTDATA = POCKETSPHINX_TESTDATA  # the default data folder, a parameter everywhere
SETS = {"librivox": "transcription", "cards": "cards.transcription"}  # set folder -> its transcript file
FRAME_RATE = 100  # pocketsphinx frames per second (its default -frate)

_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
_MARKERS = {"<s>", "</s>", "<sil>"}


def _decoder(sample_rate: int = 16000):
    try:
        from pocketsphinx import Decoder
    except ImportError as e:
        raise ImportError("real-speech alignment needs pocketsphinx: pip install 'spiritlm[data]'") from e
    return Decoder(samprate=sample_rate, bestpath=False, loglevel="FATAL")


def _words(text: str) -> str:
    """A transcript as the aligner wants it: lowercase words, no sentence markers or punctuation."""
    words = [w for w in re.sub(r"[^\w'\s<>/]", " ", text.lower()).split() if w not in _MARKERS]
    return " ".join(words)


def read_transcription(path: str | os.PathLike) -> list[tuple[str, str]]:
    """A pocketsphinx transcription file (`<s> words </s> (fileid)` a line) -> [(fileid, words)]."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if m is None:
            raise ValueError(f"{path}:{n}: expected 'words (fileid)', got {line.strip()!r}")
        out.append((m["id"], _words(m["text"])))
    return out


def pocketsphinx_testdata(folder: str | os.PathLike = TESTDATA,
                          sets: Sequence[str] = tuple(SETS)) -> list[tuple[Path, str]]:
    """[(wav path, transcript)] of the named sets of pocketsphinx-testdata (a set whose folder is absent is
    skipped; FileNotFoundError when none is there)."""
    root = Path(folder)
    out: list[tuple[Path, str]] = []
    for name in sets:
        if name not in SETS:
            raise ValueError(f"unknown pocketsphinx-testdata set {name!r}; valid: {', '.join(SETS)}")
        trans = root / name / SETS[name]
        if not trans.is_file():
            logger.info("pocketsphinx-testdata: no %s, set %s skipped", trans, name)
            continue
        for fileid, words in read_transcription(trans):
            wav = root / name / f"{fileid}.wav"
            if not wav.is_file():
                raise FileNotFoundError(f"{trans} names {fileid} but {wav} is missing")
            out.append((wav, words))
    if not out:
        raise FileNotFoundError(f"no real-speech utterances under {root} (sets {', '.join(sets)}): install the "
                                f"apt package pocketsphinx-testdata, or give its data folder")
    return out


def _pcm16(wav: str | os.PathLike | np.ndarray, sample_rate: int) -> bytes:
    if isinstance(wav, (str, os.PathLike)):
        from ..audio import load_audio

        wav = load_audio(wav, target_sr=sample_rate)
    x = np.clip(np.asarray(wav, dtype=np.float32).reshape(-1), -1.0, 1.0)
    return (x * 32767.0).round().astype("<i2").tobytes()


def align_phones(wav: str | os.PathLike | np.ndarray, text: str, sample_rate: int = 16000,
                 decoder=None) -> list[tuple[str, float, float]]:
    """Forced alignment of `text` to `wav` (a path, or float samples at `sample_rate`) by pocketsphinx ->
    [(inventory phone, start s, end s)] in time order, silences as `sil`, filler phones left out.

    Raises ValueError naming the words that are not in pocketsphinx's dictionary, or when no alignment
    is found. `decoder`: a pocketsphinx Decoder to reuse (made with `samprate=sample_rate, bestpath=False`)."""
    d = decoder if decoder is not None else _decoder(sample_rate)
    words = _words(text)
    if not words:
        raise ValueError("nothing to align: the transcript has no words")
    oov = [w for w in words.split() if d.lookup_word(w) is None]
    if oov:
        raise ValueError(f"words not in pocketsphinx's dictionary: {', '.join(sorted(set(oov)))}")
    pcm = _pcm16(wav, sample_rate)
    d.set_align_text(words)
    for second_pass in (False, True):  # words first, then their phones
        if second_pass:
            d.set_alignment()
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
    alignment = d.get_alignment()
    if alignment is None:
        raise ValueError(f"pocketsphinx found no alignment of {words!r}")
    out = []
    for p in alignment.phones():
        if p.name.startswith("+"):  # a filler (noise) phone: no inventory phone
            continue
        out.append((to_inventory("flite", p.name), p.start / FRAME_RATE, (p.start + p.duration) / FRAME_RATE))
    if not out:
        raise ValueError(f"pocketsphinx's alignment of {words!r} has no phones")
    return out


def real_speech_quality(encode: Callable[[np.ndarray], np.ndarray], hop: int, folder: str | os.PathLike = TESTDATA,
                        sets: Sequence[str] = tuple(SETS), sample_rate: int = 16000) -> dict[str, UnitQuality]:
    """Scores of `encode(wav) -> [frames]` units on pocketsphinx-testdata, pooled over every frame:
    {"all": silence included, "no-silence": speech frames only, "chance": "all" with the units shuffled over
    the frames (the small-sample floor, `chance_quality`), <set>: that set's frames (all)}."""
    from ..audio import load_audio
    from ..speech.audio_list import frame_labels

    utterances = pocketsphinx_testdata(folder, sets)
    decoder = _decoder(sample_rate)
    units: list[int] = []
    labels: list[str | None] = []
    by_set: dict[str, tuple[list[int], list[str | None]]] = {}
    for path, text in utterances:
        wav = load_audio(path, target_sr=sample_rate)
        segs = align_phones(wav, text, sample_rate, decoder)
        u = np.asarray(encode(wav)).reshape(-1).tolist()
        lab = frame_labels(segs, len(u), hop, sample_rate, silence=None)  # None: no segment there
        units += u
        labels += lab
        su, sl = by_set.setdefault(path.parent.name, ([], []))
        su += u
        sl += lab
    out = {"all": unit_quality(units, labels),
           "no-silence": unit_quality(units, [None if lab == SILENCE else lab for lab in labels]),
           "chance": chance_quality(units, labels)}
    for name, (su, sl) in by_set.items():
        out[name] = unit_quality(su, sl)
    logger.info("real speech: %d utterances, %d frames", len(utterances), out["all"].n_frames)
    return out
