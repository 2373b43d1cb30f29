"""espeak-ng through its C library (`libespeak-ng.so.1`, ctypes): audio plus exact word and phoneme times.

In synchronous mode espeak calls our callback with blocks of 22.05 kHz 16-bit samples and a list of
events. PHONEME events carry the phoneme name (espeak's ASCII phoneme mnemonics, e.g. `oU`), the sample
where it starts, and `text_position`, the 1-based character offset of the word it belongs to. So a phone
lasts until the next event's sample, and a word spans its phones: grouping phones by which word of the
input their `text_position` falls into gives exact word intervals. Pause phonemes (`_`, `_:`) are
silence and belong to no word.

libespeak-ng keeps one global synthesizer per process; `EspeakEngine` initialises it once and must only
be used from one thread (the builder runs one engine set per worker process).
"""

from __future__ import annotations

import ctypes
import functools
import logging
from ctypes import POINTER, c_char, c_char_p, c_int, c_short, c_uint, c_void_p

import numpy as np

from ..manifest import TimedPhone, TimedWord, text_words
from ..styles import Style
from .base import EngineError, Synthesis, Voice, finish, speaker_id

logger = logging.getLogger(__name__)

LIBRARY = "libespeak-ng.so.1"
VOICES = ("en-us", "en-us+f3", "en-gb-x-rp+m3", "en-gb-scotland+f4", "en-029+m7", "en-us-nyc+klatt2")
_EV_LIST_END, _EV_PHONEME = 0, 7
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_SYNCHRONOUS, _PHONEME_EVENTS, _DONT_EXIT = 0x02, 0x0001, 0x8000
_CHARS_UTF8, _ENDPAUSE = 0x1, 0x1000
_SILENCE = frozenset({"_", "_:", "_!", "_|", ""})


class _Id(ctypes.Union):
    _fields_ = [("number", c_int), ("name", c_char_p), ("string", c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", c_int), ("unique_identifier", c_uint), ("text_position", c_int), ("length", c_int),
                ("audio_position", c_int), ("sample", c_int), ("user_data", c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(c_int, POINTER(c_short), c_int, POINTER(_Event))


@functools.lru_cache(maxsize=1)
def espeak_library() -> tuple[ctypes.CDLL, int]:
    """The process's libespeak-ng, initialised once (it is one global synthesizer): (library, sample rate)."""
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as e:
        raise EngineError(f"espeak-ng library {LIBRARY} not found (apt-get install espeak-ng): {e}") from e
    rate = int(lib.espeak_Initialize(_SYNCHRONOUS, 0, None, _PHONEME_EVENTS | _DONT_EXIT))
    if rate <= 0:
        raise EngineError(f"espeak_Initialize failed (returned {rate})")
    lib.espeak_TextToPhonemes.restype = c_char_p
    lib.espeak_TextToPhonemes.argtypes = [POINTER(c_void_p), c_int, c_int]
    return lib, rate


def text_to_phonemes(text: str, voice: str = "en-us", ipa: bool = False, separator: str = "") -> str:
    """espeak's phonemes for `text` (ASCII mnemonics, or IPA), optionally with `separator` between phonemes."""
    lib, _ = espeak_library()
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise EngineError(f"espeak-ng has no voice {voice!r}")
    buf = ctypes.create_string_buffer(text.encode("utf-8"))
    ptr = c_void_p(ctypes.addressof(buf))
    mode = (0x02 if ipa else 0) | (ord(separator) << 8 if separator else 0)
    out = []
    while ptr.value:
        out.append((lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, mode) or b"").decode("utf-8"))
    return " ".join(out)


class EspeakEngine:
    name = "espeak"

    def __init__(self) -> None:
        self._lib, self.sample_rate = espeak_library()
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, str]] = []  # (text_position, sample, phone)
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: ctypes callbacks are garbage-collected

    @staticmethod
    def available() -> bool:
        try:  # load only: initialising here would leave a synthesizer in the parent of forked workers
            ctypes.CDLL(LIBRARY)
            return True
        except OSError:
            return False

    @classmethod
    def voices(cls) -> list[Voice]:
        return [Voice(cls.name, v, speaker_id(cls.name, v)) for v in VOICES]

    @staticmethod
    def supports(style: Style, voice: str | None = None) -> bool:
        return True

    def _on_audio(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EV_LIST_END:
            ev = events[i]
            if ev.type == _EV_PHONEME:
                self._events.append((ev.text_position, ev.sample, ev.id.string.decode("ascii", "replace")))
            i += 1
        return 0

    def _set_voice(self, voice: Voice, style: Style) -> None:
        name = voice.name.split("+")[0] + "+whisper" if style.whisper else voice.name
        if self._lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise EngineError(f"espeak-ng has no voice {name!r}")
        # espeak's default rate is 175 words/minute (80..450); pitch and range are 0..99 around 50, where
        # about 3 pitch units make a semitone; loudness is applied as a gain by `finish`.
        params = {_RATE: (175 * style.rate, 80, 450), _PITCH: (50 + 3 * style.pitch, 0, 99),
                  _RANGE: (50 * style.range, 0, 99), _VOLUME: (100, 0, 200)}
        for key, (value, lo, hi) in params.items():
            self._lib.espeak_SetParameter(key, int(np.clip(round(value), lo, hi)), 0)

    def synthesize(self, text: str, voice: Voice, style: Style) -> Synthesis:
        self._lib.espeak_SetSynthCallback(self._callback)  # the library has one callback; another engine may own it
        self._set_voice(voice, style)
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        err = self._lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8 | _ENDPAUSE, None, None)
        self._lib.espeak_Synchronize()
        if err != 0 or not self._chunks:
            raise EngineError(f"espeak_Synth failed with code {err} on {text!r}")
        wav = np.concatenate(self._chunks).astype(np.float32) / 32768.0  # [T] at 22.05 kHz
        words, phones = self._timings(text, len(wav), voice.name)
        return finish(wav, self.sample_rate, words, phones, text, style)

    def _timings(self, text: str, n_samples: int, voice: str) -> tuple[list[TimedWord], list[TimedPhone]]:
        spans = _word_spans(text)
        sr = float(self.sample_rate)
        ends = [s for _, s, _ in self._events[1:]] + [n_samples]
        phones, owner = [], []
        for (pos, start, ph), end in zip(self._events, ends):
            if ph in _SILENCE or end <= start:
                continue
            phones.append(TimedPhone(ph, start / sr, end / sr))
            owner.append(next((k for k, (a, b) in enumerate(spans) if a <= pos - 1 < b), -1))
        groups = [[p for p, o in zip(phones, owner) if o == k] for k in range(len(spans))]
        if any(not g for g in groups):
            groups = _split_merged(groups, [self.phone_count(text[a:b], voice) for a, b in spans])
        words = text_words(text)
        return [TimedWord(w, g[0].start, g[-1].end) for w, g in zip(words, groups)], phones

    def phone_count(self, word: str, voice: str) -> int:
        """How many phonemes espeak gives `word` on its own."""
        names = [n.strip("',%=") for n in text_to_phonemes(word, voice, separator="|").split("|")]
        return max(1, sum(1 for n in names if n))


def _split_merged(groups: list[list[TimedPhone]], counts: list[int]) -> list[list[TimedPhone]]:
    """Share out the phones of words that espeak spoke as one unit ("there was", "in the").

    espeak gives all phonemes of such a unit the position of one of its words (usually the first). We
    attach each phoneless run of words to the neighbour whose phone count fits best, then cut the
    unit's phones by each word's own phoneme count (proportionally when the counts disagree).
    """
    out: list[list[TimedPhone]] = [list(g) for g in groups]
    k = 0
    while k < len(out):
        if out[k]:
            k += 1
            continue
        m = k
        while m < len(out) and not out[m]:
            m += 1  # words k..m-1 have no phones
        back = k - 1 if k > 0 else None
        fwd = m if m < len(out) else None
        def misfit(lo: int, hi: int, anchor: int) -> int:
            return abs(sum(counts[lo:hi]) - len(out[anchor]))
        if back is not None and (fwd is None or misfit(back, m, back) <= misfit(k, m + 1, fwd)):
            lo, hi = back, m
        elif fwd is not None:
            lo, hi = k, m + 1
        else:
            raise EngineError("espeak gave no phonemes at all")
        unit = out[lo] if lo == back else out[hi - 1]
        cuts = _cut(len(unit), counts[lo:hi])
        for j, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
            out[lo + j] = unit[a:b]
        k = hi
    return out


def _cut(n: int, counts: list[int]) -> list[int]:
    """Boundaries splitting n items into len(counts) non-empty parts in proportion to counts."""
    if n < len(counts):
        raise EngineError(f"{len(counts)} words share only {n} phonemes")
    total, acc, cuts = sum(counts), 0, [0]
    for i, c in enumerate(counts[:-1]):
        acc += c
        cut = round(acc * n / total)
        cuts.append(min(max(cut, cuts[-1] + 1), n - (len(counts) - 1 - i)))
    return cuts + [n]


def _word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans [a, b) of the spoken words of `text`, in the order of `text_words`."""
    import re

    spans = [(m.start(), m.end()) for m in re.finditer(r"[A-Za-z0-9']+", text) if m.group().strip("'")]
    if len(spans) != len(text_words(text)):
        raise EngineError(f"cannot locate the words of {text!r}")
    return spans
