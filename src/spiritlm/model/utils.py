"""String helpers of the official `spiritlm.model.utils`, with the official semantics.

These work on token *strings* for compatibility with code written against the official release;
our own generation path works on ids (`spiritlm.generation`).
"""

from __future__ import annotations

import re

from ..vocab import SPEECH_MARKER, TEXT_MARKER

_SPEECH_PREFIXES = ("Hu", "Pi", "St")
_REVERSED_UNIT = re.compile(r"\]\d+uH\[|\]\d+iP\[|\]\d+tS\[")
_MAX_TOKEN_LEN = 10  # "[Hu" + up to 5 digits + "]" fits in 10 characters


def does_start_with_speech_token(encoded_string: str | None) -> bool:
    """True when the first bracketed token (closing within 10 characters) is Hu/Pi/St."""
    if encoded_string is None or len(encoded_string) <= 4 or encoded_string[0] != "[":
        return False
    for end in range(4, min(len(encoded_string), _MAX_TOKEN_LEN + 1)):
        if encoded_string[end] == "]":
            return encoded_string[1:3] in _SPEECH_PREFIXES
    return False


def does_end_with_speech_token(encoded_string: str | None) -> bool:
    """True when the last bracketed token (opening within 10 characters of the end) is Hu/Pi/St."""
    if encoded_string is None or len(encoded_string) <= 4 or encoded_string[-1] != "]":
        return False
    n = len(encoded_string)
    for start in range(n - 2, max(-1, n - _MAX_TOKEN_LEN - 2), -1):
        if encoded_string[start] == "[" and start + 3 < n:
            return encoded_string[start + 1:start + 3] in _SPEECH_PREFIXES
    return False


def find_prompt_last_speech_start_position(prompt: str) -> int | None:
    """Start index of the last contiguous run of speech tokens, or None if there is none."""
    run_end = None  # in the reversed string
    for m in _REVERSED_UNIT.finditer(prompt[::-1]):
        if run_end is not None and m.start() != run_end:
            break
        run_end = m.end()
    return None if run_end is None else len(prompt) - run_end


def parse_speech_and_text(content: str) -> list[tuple[str, str]]:
    """Split generated text into `(chunk, "t" | "s")` runs (official ARBITRARY parser).

    [Text] and [Speech] are dropped without splitting a run; "[Hu", "[Pi" or "[St" starts a speech
    token that runs through the next "]"; any other "[" is one text character.
    """
    pieces: list[tuple[str, str]] = []
    i, n = 0, len(content)
    while i < n:
        if content.startswith(TEXT_MARKER, i):
            i += len(TEXT_MARKER)
            continue
        if content.startswith(SPEECH_MARKER, i):
            i += len(SPEECH_MARKER)
            continue
        if content[i] == "[" and content[i + 1:i + 3] in _SPEECH_PREFIXES and i + 2 < n:
            close = content.find("]", i + 3)
            j = n if close < 0 else close + 1
            kind = "s"
        else:
            nxt = content.find("[", i + 1)
            j = n if nxt < 0 else nxt
            kind = "t"
        if pieces and pieces[-1][1] == kind:
            pieces[-1] = (pieces[-1][0] + content[i:j], kind)
        else:
            pieces.append((content[i:j], kind))
        i = j
    return pieces
