"""Training sequences: text-only, speech-only and word-level interleaved speech+text.

Spirit LM continues the pretraining of a text LM on three kinds of sequences (paper §3.1). Take one
aligned utterance, "the cat sat on the mat", with word times from the corpus::

    the   0.00-0.20   cat  0.25-0.55   sat 0.60-0.90   on 0.95-1.05   the 1.10-1.20   mat 1.25-1.60
    hubert (25 Hz)  [Hu5 Hu5 Hu9 Hu9 Hu9 Hu2 ...]       40 frames

* text-only:    ``[Text]the cat sat on the mat``
* speech-only:  ``[Speech][Hu5][Hu9][Hu2]...``  (all units, deduplicated as in the official string)
* interleaved:  the words are cut into spans that alternate modality, here 2 text, 3 speech, 1 text::

      [Text]the cat[Speech][Hu7][Hu31]...[Hu4][Text]mat
             words 0-1     frames of words 2-4  word 5

Span lengths are drawn uniformly from ``text_words`` (default 10-30) and ``speech_words`` (5-15), with
a random first modality, every time a sample is drawn, so one utterance yields new mixes every
epoch. The cut between word k-1 and word k is the middle of the pause between them; a token belongs to
the word whose slot holds its official timestamp (``i/24.99`` for Hu, ``i/12.5`` Pi, ``i/1`` St), so
the tokens of a speech span are one contiguous block of the utterance's merged token stream
(`spiritlm.tokens.interleave`). Inside a span HuBERT and pitch runs are deduplicated afresh (the span
starts with its own first unit), style tokens stay in their time order, and an Expressive span starts
with the style and pitch in force at its first frame (``carry_expressive``) so that every Hu token of
the span reads back with the pitch and style it had in the source. A speech span whose words hold no
HuBERT frame (broken alignments) is emitted as text, so every word still appears exactly once.

The ASR/TTS parallel format (paper §4.1 ablation) puts the whole utterance in both modalities:
``[Speech]<units>[Text]<transcript>`` (ASR) or ``[Text]<transcript>[Speech]<units>`` (TTS).

Builders are pure functions: (utterance, rng, config) -> `Segment`s; `segments_to_ids` turns them
into LM ids with a text tokenizer and a `TokenLayout`, and `split_ids` parses ids back into runs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..tokens import Token, interleave
from ..units import HUBERT_STRING_RATE, PITCH_RATE, STYLE_RATE, SpeechUnits
from ..vocab import TokenLayout

MODALITIES = ("text", "speech")
_STREAM_RATE = {"hubert": HUBERT_STRING_RATE, "pitch": PITCH_RATE, "style": STYLE_RATE}


@dataclass(frozen=True)
class WordTiming:
    """One word of the transcript and where it is spoken, in seconds."""

    word: str
    start: float
    end: float


@dataclass(frozen=True, eq=False)
class AlignedUtterance:
    """What the builders need from a corpus record: transcript, word times and raw units."""

    text: str
    words: tuple[WordTiming, ...]
    units: SpeechUnits  # raw streams (tokenizer output)
    id: str = ""


@dataclass(frozen=True)
class SpanConfig:
    """Word-level interleaving: inclusive word-count ranges per span and the first modality."""

    text_words: tuple[int, int] = (10, 30)
    speech_words: tuple[int, int] = (5, 15)
    p_start_speech: float = 0.5
    carry_expressive: bool = True

    def __post_init__(self) -> None:
        for name in ("text_words", "speech_words"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"SpanConfig.{name} must be (min, max) with 1 <= min <= max, got {(lo, hi)}")
        if not 0.0 <= self.p_start_speech <= 1.0:
            raise ValueError(f"SpanConfig.p_start_speech must be in [0, 1], got {self.p_start_speech}")


@dataclass(frozen=True)
class Segment:
    """One modality run: words [first_word, last_word) as text, or as speech `tokens`."""

    modality: str  # "text" | "speech"
    first_word: int
    last_word: int
    text: str  # the words of the run (for a speech run: what is spoken)
    tokens: tuple[Token, ...] = ()  # speech tokens in order; empty for text


# ------------------------------------------------------------------------------------- spans


def sample_spans(n_words: int, rng: random.Random, config: SpanConfig = SpanConfig()) -> list[tuple[str, int, int]]:
    """Alternating (modality, first, last) spans covering words [0, n_words); the last may be short."""
    spans: list[tuple[str, int, int]] = []
    modality = "speech" if rng.random() < config.p_start_speech else "text"
    pos = 0
    while pos < n_words:
        lo, hi = config.speech_words if modality == "speech" else config.text_words
        end = min(n_words, pos + rng.randint(lo, hi))
        spans.append((modality, pos, end))
        pos, modality = end, ("text" if modality == "speech" else "speech")
    return spans


def word_cuts(words: Sequence[WordTiming]) -> np.ndarray:
    """Cut times between consecutive words: the middle of the pause (or overlap) between them."""
    return np.array([(a.end + b.start) / 2 for a, b in zip(words[:-1], words[1:])], dtype=np.float64)  # [W-1]


def timed_tokens(units: SpeechUnits) -> tuple[list[Token], np.ndarray]:
    """Every frame of every stream as a token in official time order, with its timestamp.

    Nothing is deduplicated here: the k-th Hu token is HuBERT frame k (the sort is stable), so its
    time is ``k / 24.99``; spans deduplicate their own slice afterwards.
    """
    if units.aligned:
        raise ValueError("interleaving needs raw units (tokenizer output), got aligned units")
    tokens = interleave(units, dedup_hubert=False, dedup_pitch=False, dedup_style=False)
    seen = {"hubert": 0, "pitch": 0, "style": 0}
    times = np.empty(len(tokens), dtype=np.float64)  # [N]
    for n, (stream, _) in enumerate(tokens):
        times[n] = seen[stream] / _STREAM_RATE[stream]
        seen[stream] += 1
    return tokens, times


def _speech_tokens(tokens: list[Token], lo: int, hi: int, carry: bool) -> tuple[Token, ...]:
    """Tokens[lo:hi] with Hu/Pi runs deduplicated; optionally prefixed by the St/Pi in force."""
    in_force = {"pitch": None, "style": None}
    for stream, value in tokens[:lo]:
        if stream in in_force:
            in_force[stream] = value
    out: list[Token] = []
    last = {"hubert": None, "pitch": None}
    seen_style = seen_pitch = False
    for stream, value in tokens[lo:hi]:
        if stream == "hubert" and carry:
            if not seen_style and in_force["style"] is not None:
                out.append(("style", in_force["style"]))
                seen_style = True
            if not seen_pitch and in_force["pitch"] is not None:
                out.append(("pitch", in_force["pitch"]))
                last["pitch"], seen_pitch = in_force["pitch"], True
        if stream in last:
            if last[stream] == value:
                continue
            last[stream] = value
        seen_style |= stream == "style"
        seen_pitch |= stream == "pitch"
        out.append((stream, value))
    return tuple(out)


def locate_words(text: str, words: Sequence[WordTiming]) -> list[int] | None:
    """Character offset of each word in `text` (whole words, case-insensitive, in order), or None."""
    lowered, pos, starts = text.lower(), 0, []
    for w in words:
        if not w.word:
            return None
        m = re.compile(rf"(?<![\w']){re.escape(w.word.lower())}(?![\w'])").search(lowered, pos)
        if m is None:
            return None
        starts.append(m.start())
        pos = m.end()
    return starts


def _span_texts(text: str, words: Sequence[WordTiming], spans: list[tuple[str, int, int]]) -> list[str]:
    starts = locate_words(text, words)
    if starts is None:  # words do not come from this text verbatim: use the words themselves
        return [" ".join(w.word for w in words[a:b]) for _, a, b in spans]
    bounds = [0, *starts[1:], len(text)]
    return [" ".join(text[bounds[a]:bounds[b]].split()) for _, a, b in spans]


# ------------------------------------------------------------------------------------- builders


def text_only(text: str) -> list[Segment]:
    """``[Text]<text>``."""
    words = text.split()
    return [Segment("text", 0, len(words), " ".join(words))]


def speech_only(units: SpeechUnits, text: str = "") -> list[Segment]:
    """``[Speech]<units>``, the official deduplicated token order."""
    tokens, _ = timed_tokens(units)
    return [Segment("speech", 0, len(text.split()), text, _speech_tokens(tokens, 0, len(tokens), carry=False))]


def interleaved(utt: AlignedUtterance, rng: random.Random, config: SpanConfig = SpanConfig()) -> list[Segment]:
    """Word-level interleaving with freshly sampled spans (see the module docstring)."""
    words = utt.words
    if not words:
        raise ValueError(f"utterance {utt.id!r} has no word alignments; word-level interleaving needs them")
    tokens, times = timed_tokens(utt.units)
    slot = np.searchsorted(word_cuts(words), times, side="right")  # [N] word index of each token
    spans = sample_spans(len(words), rng, config)
    texts = _span_texts(utt.text, words, spans)
    segments: list[Segment] = []
    for (modality, a, b), text in zip(spans, texts):
        lo, hi = np.searchsorted(slot, [a, b], side="left")  # slot is non-decreasing
        toks: tuple[Token, ...] = ()
        if modality == "speech":
            toks = _speech_tokens(tokens, int(lo), int(hi), config.carry_expressive)
            if not any(s == "hubert" for s, _ in toks):
                modality, toks = "text", ()
        segments.append(Segment(modality, a, b, text, toks))
    return _merge_text_runs(segments)


def _merge_text_runs(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for seg in segments:
        if out and seg.modality == "text" and out[-1].modality == "text":
            prev = out.pop()
            seg = Segment("text", prev.first_word, seg.last_word, f"{prev.text} {seg.text}".strip())
        out.append(seg)
    return out


def parallel(utt: AlignedUtterance, direction: str = "asr") -> list[Segment]:
    """ASR: ``[Speech]<units>[Text]<transcript>``; TTS: ``[Text]<transcript>[Speech]<units>``."""
    if direction not in ("asr", "tts"):
        raise ValueError(f"unknown parallel direction {direction!r}; valid: asr, tts")
    speech = speech_only(utt.units, utt.text)
    text = text_only(utt.text)
    return speech + text if direction == "asr" else text + speech


# ------------------------------------------------------------------------------------- ids


def segments_to_ids(segments: Sequence[Segment], tokenizer, layout: TokenLayout, bos: bool = True,
                    eos: bool = True) -> list[int]:
    """Segments -> LM ids: ``<s> [Text] text... [Speech] Hu... </s>``; `tokenizer` has `encode_text`."""
    ids = [tokenizer.bos_id] if bos and tokenizer.bos_id >= 0 else []
    for seg in segments:
        if seg.modality == "text":
            ids.append(layout.text_marker_id)
            ids.extend(tokenizer.encode_text(seg.text))
        elif seg.modality == "speech":
            ids.append(layout.speech_marker_id)
            ids.extend(layout.unit_id(s, v) for s, v in seg.tokens)
        else:
            raise ValueError(f"unknown segment modality {seg.modality!r}; valid: {', '.join(MODALITIES)}")
    if eos:
        ids.append(tokenizer.eos_id)
    return ids


def split_ids(ids: Sequence[int], layout: TokenLayout) -> list[tuple[str, list[int]]]:
    """Ids -> [(modality, ids after its marker)]; ids before the first marker form a ("none", ...) run."""
    runs: list[tuple[str, list[int]]] = []
    for i in ids:
        if i == layout.text_marker_id:
            runs.append(("text", []))
        elif i == layout.speech_marker_id:
            runs.append(("speech", []))
        else:
            if not runs:
                runs.append(("none", []))
            runs[-1][1].append(int(i))
    return runs
