"""Speech units <-> the official token sequence, as (stream, unit) pairs, strings or LM ids.

Merging by time. Each stream becomes `(token, timestamp)` pairs, style first, then pitch, then
HuBERT; HuBERT and pitch drop a token equal to the previous raw token (the first of a run keeps
its own index), style keeps every token. A stable sort by timestamp gives the sequence::

    hubert 99 49 49 38   at i/24.99 -> 0.00 0.04 (dup) 0.12
    pitch  39 39 48      at i/12.5  -> 0.00 (dup) 0.16
    style  71            at i/1     -> 0.00
    -> [St71][Pi39][Hu99][Hu49][Hu38][Pi48]

Reading back (`tokens_to_units`) carries the last Pi and St forward onto each Hu and back-fills
the Hu tokens that come before the first Pi/St, so that every stream has the HuBERT length.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from .units import HUBERT_STRING_RATE, PITCH_RATE, STYLE_RATE, SpeechUnits
from .vocab import PREFIX_STREAM, SPEECH_MARKER, STREAM_PREFIX, TEXT_MARKER, TokenLayout

Token = tuple[str, int]
"""(stream, unit) with stream in "hubert" | "pitch" | "style"."""

MOST_COMMON_STYLES = (71, 68, 98)
"""The official fallback styles when pitch is present but style is not."""
DEFAULT_MISSING_STYLE = 71

_UNIT_RE = re.compile(r"\[(Hu|Pi|St)(\d+)\]")
_MARKUP_RE = re.compile(r"\[(?:Text|Speech)\]|\[(?:Hu|Pi|St)[^\]\[]*\]?")


def _positions(values: Iterable[int], rate: float, dedup: bool) -> list[tuple[int, float]]:
    out, prev = [], None
    for i, v in enumerate(values):
        if not dedup or v != prev:
            out.append((v, i / rate))
        prev = v
    return out


def interleave(units: SpeechUnits, hubert_rate: float = HUBERT_STRING_RATE, pitch_rate: float = PITCH_RATE,
               style_rate: float = STYLE_RATE, dedup_hubert: bool = True, dedup_pitch: bool = True,
               dedup_style: bool = False) -> list[Token]:
    """Raw streams -> the merged token sequence (official `units_to_string` order)."""
    if units.aligned:
        raise ValueError("interleave() takes raw units (streams at their own rates), got aligned units")
    timed: list[tuple[str, int, float]] = []
    for stream, values, rate, dedup in (("style", units.style, style_rate, dedup_style),
                                        ("pitch", units.pitch, pitch_rate, dedup_pitch),
                                        ("hubert", units.hubert, hubert_rate, dedup_hubert)):
        if values is not None:
            timed += [(stream, int(v), t) for v, t in _positions(values.tolist(), rate, dedup)]
    timed.sort(key=lambda x: x[2])  # stable: at equal times St < Pi < Hu
    return [(s, v) for s, v, _ in timed]


def format_tokens(tokens: Iterable[Token]) -> str:
    return "".join(f"[{STREAM_PREFIX[s]}{v}]" for s, v in tokens)


def units_to_string(units: SpeechUnits | dict, **kwargs) -> str:
    """Official `units_to_string`: raw units (or the official dict of strings) -> token string."""
    if isinstance(units, dict):
        units = SpeechUnits.from_official_dict(units)
    return format_tokens(interleave(units, **kwargs))


def units_to_ids(units: SpeechUnits, layout: TokenLayout, **kwargs) -> list[int]:
    return [layout.unit_id(s, v) for s, v in interleave(units, **kwargs)]


def parse_unit_string(s: str, allow_markers: bool = True) -> list[Token]:
    """A string of unit tokens -> tokens. Anything else (text, a malformed token) is an error."""
    tokens: list[Token] = []
    pos = 0
    for m in re.finditer(r"\[[^\]\[]*\]?", s):
        if m.start() != pos:
            break
        piece = m.group(0)
        u = _UNIT_RE.fullmatch(piece)
        if u:
            tokens.append((PREFIX_STREAM[u.group(1)], int(u.group(2))))
        elif not (allow_markers and piece in (TEXT_MARKER, SPEECH_MARKER)):
            raise ValueError(f"malformed speech token {piece!r} at character {pos}; "
                             "expected [HuN], [PiN] or [StN] with N a non-negative integer")
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"unexpected text {s[pos:pos + 20]!r} at character {pos} of a speech token string; "
                         "only [HuN], [PiN], [StN] (and [Text]/[Speech]) tokens are allowed")
    return tokens


def tokens_to_units(tokens: Sequence[Token], duplicate_hubert_for_multiple_pitch: bool = False,
                    missing_style: int | str | None = DEFAULT_MISSING_STYLE,
                    rng: random.Random | None = None) -> SpeechUnits:
    """Token sequence -> aligned units (official `string_to_units`).

    `missing_style` is the style used when pitch tokens are present but no style token is: an int
    (default 71, the most common style), "random" for the official random choice among
    (71, 68, 98), or None to leave the style stream out.
    """
    hubert: list[int | None] = []
    pitch: list[int | None] = []
    style: list[int | None] = []
    cur = {"hubert": None, "pitch": None, "style": None}
    first = dict(cur)
    prev_is_pitch = False
    for stream, v in tokens:
        if stream == "pitch" and duplicate_hubert_for_multiple_pitch and prev_is_pitch:
            hubert.append(cur["hubert"])
            pitch.append(v)
            style.append(cur["style"])
        if stream == "hubert":
            hubert.append(v)
            pitch.append(cur["pitch"])
            style.append(cur["style"])
        elif stream not in cur:
            raise ValueError(f"unknown unit stream {stream!r}")
        if first[stream] is None:
            first[stream] = v
        cur[stream] = v
        prev_is_pitch = stream == "pitch"
    if first["pitch"] is not None and first["style"] is None and missing_style is not None:
        if missing_style == "random":
            first["style"] = (rng or random).choice(MOST_COMMON_STYLES)
        elif isinstance(missing_style, int) and missing_style >= 0:
            first["style"] = missing_style
        else:
            raise ValueError(f"missing_style must be a non-negative int, 'random' or None, got {missing_style!r}")

    if first["hubert"] is None:  # no Hu token at all: nothing to align to
        return SpeechUnits([], None if first["pitch"] is None else [],
                           None if first["style"] is None else [], aligned=True)

    def fill(values, name):
        if first[name] is None:
            return None
        return [first[name] if v is None else v for v in values]

    return SpeechUnits(fill(hubert, "hubert"), fill(pitch, "pitch"), fill(style, "style"), aligned=True)


def string_to_units(s: str, **kwargs) -> SpeechUnits:
    return tokens_to_units(parse_unit_string(s), **kwargs)


def ids_to_tokens(ids: Iterable[int], layout: TokenLayout) -> list[Token]:
    """Unit ids -> tokens; markers are skipped, any other id is an error."""
    out = []
    for i in ids:
        kind, v = layout.token_of(int(i))
        if kind in STREAM_PREFIX:
            out.append((kind, v))
        elif kind != "marker":
            raise ValueError(f"id {i} is a {kind} id, not a speech unit")
    return out


# ---------------------------------------------------------------- prompt strings with markup


def split_markup(s: str) -> list[str]:
    """Split a prompt string into markup tokens ([Text], [Speech], [HuN], ...) and text runs.

    Every "[Hu", "[Pi" or "[St" must start a well-formed token: "[Hu12" or "[Pi-1]" is an error,
    not text, so that a broken prompt never reaches the model silently.
    """
    parts: list[str] = []
    pos = 0
    for m in _MARKUP_RE.finditer(s):
        piece = m.group(0)
        if piece not in (TEXT_MARKER, SPEECH_MARKER) and not _UNIT_RE.fullmatch(piece):
            raise ValueError(f"malformed speech token {piece!r} at character {m.start()} of the prompt; "
                             "expected [HuN], [PiN] or [StN] with N a non-negative integer")
        if m.start() > pos:
            parts.append(s[pos:m.start()])
        parts.append(piece)
        pos = m.end()
    if pos < len(s):
        parts.append(s[pos:])
    return parts


def markup_id(piece: str, layout: TokenLayout) -> int | None:
    """Id of a markup token, or None for a text run."""
    if piece == TEXT_MARKER:
        return layout.text_marker_id
    if piece == SPEECH_MARKER:
        return layout.speech_marker_id
    u = _UNIT_RE.fullmatch(piece)
    if u:
        return layout.unit_id(PREFIX_STREAM[u.group(1)], int(u.group(2)))
    return None


def aligned_to_tokens(units: SpeechUnits) -> list[Token]:
    """Aligned units -> tokens: St/Pi when their value changes, then every Hu (inverse of tokens_to_units)."""
    if not units.aligned:
        raise ValueError("aligned_to_tokens() takes aligned units; use interleave() for raw units")
    out: list[Token] = []
    prev = {"pitch": None, "style": None}
    for i, h in enumerate(units.hubert.tolist()):
        for stream in ("style", "pitch"):
            values = getattr(units, stream)
            if values is not None and values[i] != prev[stream]:
                prev[stream] = int(values[i])
                out.append((stream, int(values[i])))
        out.append(("hubert", int(h)))
    return out


def units_to_tokens(units: SpeechUnits) -> list[Token]:
    """Either form -> the token sequence the LM reads."""
    return aligned_to_tokens(units) if units.aligned else interleave(units)
