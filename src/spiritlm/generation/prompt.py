"""Prompt building: interleaved inputs -> LM ids, by the official rules.

A modality marker is written only when the modality changes, and a trailing marker asks for the
output modality (none for ARBITRARY)::

    [("text", "The largest country is")], TEXT      -> "[Text]The largest country is"
    [("speech", wav)], TEXT                         -> "[Speech][Hu99][Hu49]...[Text]"
    [("text", "Hello"), ("text", " world")], SPEECH -> "[Text]Hello world[Speech]"

Consecutive text inputs are one text run (the official code concatenates them with no separator).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import InvalidInput
from ..tokens import Token, format_tokens
from ..vocab import SPEECH_MARKER, TEXT_MARKER
from .types import ContentType, GenerationInput, OutputModality


@dataclass
class Prompt:
    ids: list[int]
    text: str
    last_modality: str | None  # "t", "s" or None
    # the prompt's final run of speech ids, when the prompt ends in speech
    last_speech_ids: list[int] = field(default_factory=list)


def build_prompt(inputs: Sequence[GenerationInput], output_modality: OutputModality, tokenizer,
                 speech_tokens: Callable[[object], list[Token]]) -> Prompt:
    """`speech_tokens(content)` turns one speech input into its token sequence."""
    if not inputs:
        raise InvalidInput("the prompt is empty: give at least one text or speech input")
    layout = tokenizer.layout
    ids = [tokenizer.bos_id] if tokenizer.add_bos and tokenizer.bos_id >= 0 else []
    parts: list[str] = []
    prev: str | None = None
    pending_text: list[str] = []
    speech_run: list[int] = []

    def flush_text() -> None:
        if pending_text:
            joined = "".join(pending_text)
            ids.extend(tokenizer.encode_text(joined))
            parts.append(joined)
            pending_text.clear()

    for item in inputs:
        if item.content_type is ContentType.TEXT:
            if prev != "t":
                ids.append(layout.text_marker_id)
                parts.append(TEXT_MARKER)
                speech_run = []
            pending_text.append(item.content)
            prev = "t"
        else:
            flush_text()
            if prev != "s":
                ids.append(layout.speech_marker_id)
                parts.append(SPEECH_MARKER)
            tokens = speech_tokens(item.content)
            unit_ids = [layout.unit_id(s, v) for s, v in tokens]
            ids.extend(unit_ids)
            speech_run = speech_run + unit_ids
            parts.append(format_tokens(tokens))
            prev = "s"
    flush_text()
    if output_modality is OutputModality.TEXT and prev != "t":
        ids.append(layout.text_marker_id)
        parts.append(TEXT_MARKER)
    elif output_modality is OutputModality.SPEECH and prev != "s":
        ids.append(layout.speech_marker_id)
        parts.append(SPEECH_MARKER)
    ends_in_speech = prev == "s" and output_modality is not OutputModality.TEXT  # no trailing marker added
    return Prompt(ids, "".join(parts), prev, speech_run if ends_in_speech else [])


def prompt_from_string(s: str, tokenizer) -> Prompt:
    """An already-tokenized prompt string ("[Speech][Hu99]...[Text]...") -> Prompt."""
    if not s:
        raise InvalidInput("the prompt string is empty")
    if not isinstance(s, str):
        raise InvalidInput(f"the prompt string must be a str, got {type(s).__name__}")
    try:
        ids = tokenizer.encode(s)
    except ValueError as e:  # malformed or out-of-range unit tokens
        raise InvalidInput(f"bad prompt string: {e}") from e
    layout = tokenizer.layout
    run: list[int] = []
    for i in reversed(ids):
        kind, _ = layout.token_of(i)
        if kind in ("hubert", "pitch", "style"):
            run.append(i)
        else:
            break
    last = None
    for i in reversed(ids):
        kind, value = layout.token_of(i)
        if kind in ("hubert", "pitch", "style"):
            last = "s"
            break
        if kind == "marker":
            last = "s" if value == 1 else "t"
            break
        if i != tokenizer.bos_id:
            last = "t"
            break
    return Prompt(ids, s, last, run[::-1])
