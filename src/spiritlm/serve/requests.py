"""Validation of a generate request body -> a typed `GenerateRequest` (every problem is a `RequestError`, HTTP 400).

Sampling is on by default (the CLI's default too), so `temperature`, `top_p` and `seed` always take effect;
`"do_sample": false` together with one of them is refused rather than silently ignored. Numbers must be
finite (JSON's `1e400` parses as infinity) and inside their ranges; the messages name the valid values.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

MAX_NEW_TOKENS_LIMIT = 4096
MAX_JSON_DEPTH = 32
SAMPLING_KEYS = ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty")
REQUEST_KEYS = {"inputs", "prompt", "output_modality", "max_new_tokens", "seed", "speaker_id", "return_audio",
                *SAMPLING_KEYS}


class RequestError(ValueError):
    """A bad request (HTTP 400 unless `status` says otherwise); the message says what is wrong and what is valid."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GenerateRequest:
    call: dict  # {"prompt": str} or {"inputs": [(type, content), ...]}
    output_modality: str = "arbitrary"
    max_new_tokens: int = 200
    seed: int | None = None
    speaker_id: int | None = None
    return_audio: bool = True
    sampling: dict = field(default_factory=dict)

    def batch_key(self) -> tuple:
        """Requests with equal keys can share one `generate_batch` call; a seeded request runs alone so that it
        gives the same answer as the Python API with that seed."""
        return (self.output_modality, tuple(sorted(self.sampling.items())), self.speaker_id, self.seed)


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Bytes -> JSON value; invalid or too deeply nested JSON is a RequestError."""
    try:
        value = json.loads(body or b"")
    except RecursionError:
        raise RequestError(f"the request body nests deeper than {max_depth} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RequestError(f"the request body is not valid JSON: {e}") from None
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > max_depth:
                raise RequestError(f"the request body nests deeper than {max_depth} levels")
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return value


def _typed(body: dict, key: str, kinds, default=None):
    """body[key] checked against `kinds` (a type or tuple); a JSON true/false is only a bool, never a number."""
    value = body.get(key, default)
    if value is None:
        return default
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise RequestError(f"{key!r} must be {names}, got {type(value).__name__} {str(value)[:40]!r}")
    return value


def sampling_settings(body: dict) -> dict:
    """The request's sampling fields, checked by the one rule the CLI and the Python API use
    (`generation.settings.validate_generation_settings`); JSON types are checked strictly first (a JSON
    true/false is never a number). The server samples unless the body says `"do_sample": false`."""
    from ..errors import InvalidSetting
    from ..generation.settings import validate_generation_settings

    given = {k: _typed(body, k, (int, float)) for k in ("temperature", "top_p", "repetition_penalty")}
    given["top_k"] = _typed(body, "top_k", int)
    if given["top_k"] is not None and given["top_k"] > 100000:
        raise RequestError(f"top_k must be an integer 0..100000 (0: no top-k), got {given['top_k']}")
    do_sample = _typed(body, "do_sample", bool)
    try:
        s = validate_generation_settings(do_sample=do_sample, seed=_typed(body, "seed", int),
                                         **{k: v for k, v in given.items() if v is not None})
    except InvalidSetting as e:
        raise RequestError(str(e)) from None
    values = {k: getattr(s, k) for k in given if getattr(s, k) is not None}
    return {"do_sample": True if s.do_sample is None else s.do_sample} | values


def _speech_input(i: int, item: dict) -> tuple[str, Any]:
    from ..audio import speech_kind

    has = [k for k in ("audio", "units") if k in item]
    if len(has) != 1:
        raise RequestError(f"inputs[{i}]: a speech input needs exactly one of 'audio' (base64 of an audio "
                           f"file) or 'units' (a unit string like '[Hu12][Hu7]'); got {sorted(item)}")
    if has[0] == "audio":
        if not isinstance(item["audio"], str) or not item["audio"]:
            raise RequestError(f"inputs[{i}].audio must be a non-empty base64 string of a wav/flac/ogg file")
        try:
            return "speech", base64.b64decode(item["audio"], validate=True)
        except (ValueError, TypeError) as e:
            raise RequestError(f"inputs[{i}].audio is not valid base64: {e}") from None
    if not isinstance(item["units"], str) or not item["units"].strip():
        raise RequestError(f"inputs[{i}].units must be a non-empty unit string like '[Hu12][Hu7]'")
    if speech_kind(item["units"]) != "unit_string":  # the API's rule; a server never opens a path
        raise RequestError(f"inputs[{i}].units must be a unit string starting with '[', like '[Hu12][Hu7]'; "
                           f"got {item['units'][:40]!r}")
    # passed on as the string: the model checks it against its own layout (no [Pi]/[St] on Base, ranges)
    # exactly as the Python API does; no style is filled in, the model's own default applies
    return "speech", item["units"].strip()


def parse_inputs(items: Any) -> list[tuple[str, Any]]:
    """The request's `inputs` -> (type, content) pairs for `SpiritLM.generate` (audio decoded from base64,
    unit strings parsed); never a path on the server."""
    if not isinstance(items, list) or not items:
        raise RequestError("'inputs' must be a non-empty list of {'type': 'text', 'text': ...}, "
                           "{'type': 'speech', 'audio': <base64 audio file>} or {'type': 'speech', 'units': ...}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RequestError(f"inputs[{i}] must be an object, got {type(item).__name__}")
        kind = item.get("type")
        if kind == "text":
            if not isinstance(item.get("text"), str) or not item["text"]:
                raise RequestError(f"inputs[{i}]: a text input needs a non-empty string 'text'")
            out.append(("text", item["text"]))
        elif kind == "speech":
            out.append(_speech_input(i, item))
        else:
            raise RequestError(f"inputs[{i}]: unknown type {kind!r}; valid: text, speech")
    return out


def parse_request(body: Any) -> GenerateRequest:
    from ..generation.types import OutputModality

    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    unknown = sorted(set(body) - REQUEST_KEYS)
    if unknown:
        raise RequestError(f"unknown request field(s) {unknown}; valid: {', '.join(sorted(REQUEST_KEYS))}")
    if ("inputs" in body) == ("prompt" in body):
        raise RequestError("give exactly one of 'inputs' (a list) or 'prompt' (a token string)")
    max_new = _typed(body, "max_new_tokens", int, 200)
    if not 1 <= max_new <= MAX_NEW_TOKENS_LIMIT:
        raise RequestError(f"'max_new_tokens' must be between 1 and {MAX_NEW_TOKENS_LIMIT}, got {max_new}")
    modality = body.get("output_modality", "arbitrary")
    if not isinstance(modality, str):
        raise RequestError(f"'output_modality' must be a string; valid: text, speech, arbitrary, got {modality!r}")
    try:
        OutputModality.parse(modality)
    except ValueError as e:
        raise RequestError(str(e)) from None
    if "prompt" in body:
        if not isinstance(body["prompt"], str) or not body["prompt"]:
            raise RequestError("'prompt' must be a non-empty token string like '[Text]The cat[Speech]'")
        call = {"prompt": body["prompt"]}
    else:
        call = {"inputs": parse_inputs(body["inputs"])}
    sampling = sampling_settings(body)  # also checks the seed (0..2**32-1)
    seed = _typed(body, "seed", int)
    speaker = _typed(body, "speaker_id", int)
    if speaker is not None and speaker < 0:
        raise RequestError(f"'speaker_id' must be >= 0, got {speaker}")
    return GenerateRequest(call, modality.lower(), max_new, seed, speaker, _typed(body, "return_audio", bool, True),
                           sampling)
