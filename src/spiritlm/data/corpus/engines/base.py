"""What every TTS engine gives the builder: a `Voice` list and `synthesize(text, voice, style) -> Synthesis`.

An engine turns a normalised sentence into 16 kHz float32 audio plus the time of every word of the text
(`manifest.text_words`), and of every phoneme when it knows them. Timings come from the synthesizer
itself (espeak events, festival's utterance structure, flite's phone durations, Piper's durations), so
they are exact for the audio produced, not estimated afterwards. Engines are optional: `available()`
says whether the program or library is installed, and a failure on one text raises `EngineError`,
which the builder logs and skips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..manifest import ManifestError, TimedPhone, TimedWord, check_intervals, text_words
from ..styles import Style


class EngineError(RuntimeError):
    """The engine could not speak this text (or is broken); the builder skips the item."""


@dataclass(frozen=True)
class Voice:
    engine: str
    name: str  # the engine's own voice name, e.g. "en-us+f3" or "slt"
    speaker: str  # corpus-wide speaker id, e.g. "espeak-en-us-f3"
    base_f0: float = 110.0  # typical F0 in Hz, for engines whose pitch control is in Hz


@dataclass(frozen=True)
class Synthesis:
    wav: np.ndarray  # [T] float32 at 16 kHz
    words: tuple[TimedWord, ...]
    phonemes: tuple[TimedPhone, ...]

    @property
    def duration(self) -> float:
        return len(self.wav) / 16000.0


def speaker_id(engine: str, name: str) -> str:
    return f"{engine}-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def finish(wav: np.ndarray, sr: int, words: list[TimedWord], phones: list[TimedPhone], text: str,
           style: Style) -> Synthesis:
    """Resample to 16 kHz, apply the style's gain, clamp timings into the audio and check them."""
    from ....audio import resample

    wav = resample(np.asarray(wav, dtype=np.float32).reshape(-1), sr)  # [T]
    if wav.size == 0 or not np.any(wav):
        raise EngineError("the engine produced no audio")
    if style.volume != 1.0:
        wav = np.clip(wav * style.volume, -1.0, 1.0).astype(np.float32)
    dur = len(wav) / 16000.0
    words = [TimedWord(w.word, round(min(w.start, dur), 4), round(min(w.end, dur), 4)) for w in words]
    phones = [TimedPhone(p.phone, round(min(p.start, dur), 4), round(min(p.end, dur), 4)) for p in phones]
    expected = text_words(text)
    if [w.word for w in words] != expected:
        raise EngineError(f"word timings {[w.word for w in words]} do not cover the text's words {expected}")
    try:
        check_intervals(words, dur, "word")
        check_intervals(phones, dur, "phoneme")
    except ManifestError as e:
        raise EngineError(str(e)) from e
    return Synthesis(wav, tuple(words), tuple(phones))


def words_from_phones(text: str, phones: list[TimedPhone], word_phones: list[list[str]],
                      silence: frozenset[str]) -> list[TimedWord]:
    """Word intervals from timed phones and each word's phone list (silences between words skipped)."""
    words = text_words(text)
    if len(word_phones) != len(words):
        raise EngineError(f"{len(word_phones)} pronunciations for {len(words)} words")
    spoken = [p for p in phones if p.phone not in silence]
    need = sum(len(wp) for wp in word_phones)
    if need != len(spoken):
        raise EngineError(f"the lexicon gives {need} phones but the audio has {len(spoken)}")
    out, i = [], 0
    for w, wp in zip(words, word_phones):
        if not wp:
            raise EngineError(f"no phones for word {w!r}")
        out.append(TimedWord(w, spoken[i].start, spoken[i + len(wp) - 1].end))
        i += len(wp)
    return out
