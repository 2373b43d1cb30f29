"""An HTTP JSON server around one `SpiritLM` (standard library only; binds to 127.0.0.1 by default).

    spiritlm serve --model spirit-lm-mini-expressive            # http://127.0.0.1:8765

Endpoints::

    GET  /health        {"status": "ok", "model": ..., "variant": "base" | "expressive"}
    GET  /v1/layout     the token layout (vocabulary sizes, id ranges)
    POST /v1/generate   one prompt -> text and/or speech

A generate request::

    {"inputs": [{"type": "text", "text": "The cat sat on the"},
                {"type": "speech", "audio": "<base64 of a wav/flac/ogg file>"},
                {"type": "speech", "units": "[Hu12][Hu7][Pi3]..."}],
     "output_modality": "text" | "speech" | "arbitrary",          (default "arbitrary")
     "max_new_tokens": 200, "seed": 0, "speaker_id": null,
     "do_sample": true, "temperature": 0.8, "top_p": 0.95, "top_k": 0, "repetition_penalty": 1.0,
     "return_audio": true}                                        (speech outputs as base64 16 kHz wav)

or `{"prompt": "[Text]The cat[Speech]"}` instead of `inputs`. The answer::

    {"outputs": [{"type": "text", "text": "..."},
                 {"type": "speech", "units": "[Hu..]...", "seconds": 2.5, "audio": "<base64 wav>"}],
     "prompt": "...", "finish_reason": "eos" | "modality_switch" | "length", "new_tokens": 57, "seconds": 0.8}

Speech inputs are never read from the server's disk: audio comes in the request body, units as a
string. Bad requests get HTTP 400 with {"error": "..."} naming the problem and the valid options.
Requests are served one at a time (a lock around the model); the HTTP layer is threaded.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_NEW_TOKENS_LIMIT = 4096
SAMPLING_KEYS = {"do_sample": bool, "temperature": (int, float), "top_p": (int, float), "top_k": int,
                 "repetition_penalty": (int, float)}
REQUEST_KEYS = {"inputs", "prompt", "output_modality", "max_new_tokens", "seed", "speaker_id", "return_audio",
                *SAMPLING_KEYS}


class RequestError(ValueError):
    """A bad request (HTTP 400); the message says what is wrong and what is valid."""


def _wav_base64(wav, rate: int = 16000) -> str:
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(wav, dtype=np.float32), rate, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _typed(body: dict, key: str, kinds, default=None):
    """body[key] checked against `kinds` (a type or tuple); a JSON true/false is only a bool, never a number."""
    value = body.get(key, default)
    if value is None:
        return default
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise RequestError(f"{key!r} must be {names}, got {type(value).__name__} {value!r}")
    return value


def parse_inputs(items: Any) -> list[tuple[str, Any]]:
    """The request's `inputs` -> (type, content) pairs for `SpiritLM.generate` (audio decoded from base64,
    unit strings parsed); never a path on the server."""
    from .tokens import string_to_units

    if not isinstance(items, list) or not items:
        raise RequestError("'inputs' must be a non-empty list of {'type': 'text', 'text': ...}, "
                           "{'type': 'speech', 'audio': <base64 audio file>} or {'type': 'speech', 'units': ...}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RequestError(f"inputs[{i}] must be an object, got {type(item).__name__}")
        kind = item.get("type")
        if kind == "text":
            if not isinstance(item.get("text"), str):
                raise RequestError(f"inputs[{i}]: a text input needs a string 'text'")
            out.append(("text", item["text"]))
        elif kind == "speech":
            has = [k for k in ("audio", "units") if k in item]
            if len(has) != 1:
                raise RequestError(f"inputs[{i}]: a speech input needs exactly one of 'audio' (base64 of an audio "
                                   f"file) or 'units' (a unit string like '[Hu12][Hu7]'); got {sorted(item)}")
            if has[0] == "audio":
                try:
                    data = base64.b64decode(item["audio"], validate=True)
                except (ValueError, TypeError) as e:
                    raise RequestError(f"inputs[{i}].audio is not valid base64: {e}") from None
                out.append(("speech", data))
            else:
                try:
                    units = string_to_units(item["units"])
                except (ValueError, TypeError) as e:
                    raise RequestError(f"inputs[{i}].units: {e}") from None
                out.append(("speech", units))
        else:
            raise RequestError(f"inputs[{i}]: unknown type {kind!r}; valid: text, speech")
    return out


class SpiritServer:
    """The model behind the endpoints; `handle(method, path, body)` -> (status, JSON object)."""

    def __init__(self, lm, name: str = ""):
        self.lm = lm
        self.name = name
        self.lock = threading.Lock()

    def health(self) -> dict:
        return {"status": "ok", "model": self.name, "variant": "expressive" if self.lm.is_expressive else "base"}

    def layout(self) -> dict:
        return {"model": self.name, "describe": self.lm.layout.describe()}

    def generate(self, body: Any) -> dict:
        from .generation.types import ContentType, OutputModality
        from .tokens import format_tokens, units_to_tokens

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
        kwargs = {k: _typed(body, k, t) for k, t in SAMPLING_KEYS.items() if body.get(k) is not None}
        modality = body.get("output_modality", "arbitrary")
        try:
            OutputModality.parse(modality)
        except ValueError as e:
            raise RequestError(str(e)) from None
        speaker = _typed(body, "speaker_id", int)
        seed = _typed(body, "seed", int)
        return_audio = _typed(body, "return_audio", bool, True)
        if "prompt" in body:
            if not isinstance(body["prompt"], str) or not body["prompt"]:
                raise RequestError("'prompt' must be a non-empty token string like '[Text]The cat[Speech]'")
            call = {"prompt": body["prompt"]}
        else:
            call = {"inputs": parse_inputs(body["inputs"])}
        start = time.time()
        with self.lock:
            r = self.lm.generate(**call, output_modality=modality, max_new_tokens=max_new, seed=seed,
                                 speaker_id=speaker, **kwargs)
        outputs = []
        for o in r.outputs:
            if o.content_type is ContentType.TEXT:
                outputs.append({"type": "text", "text": o.content})
                continue
            piece: dict[str, Any] = {"type": "speech", "units": format_tokens(units_to_tokens(o.units))}
            if o.content is not None:
                piece["seconds"] = round(len(o.content) / 16000, 3)
                if return_audio:
                    piece["audio"] = _wav_base64(o.content)
            outputs.append(piece)
        return {"outputs": outputs, "prompt": r.prompt, "finish_reason": r.finish_reason,
                "new_tokens": len(r.new_ids), "seconds": round(time.time() - start, 3)}

    def handle(self, method: str, path: str, body: bytes | None) -> tuple[int, dict]:
        routes = {("GET", "/health"): lambda: self.health(), ("GET", "/v1/layout"): lambda: self.layout(),
                  ("POST", "/v1/generate"): lambda: self.generate(self._json(body))}
        path = path.split("?", 1)[0].rstrip("/") or "/"
        if (method, path) not in routes:
            known = [p for m, p in routes if p == path]
            if known:
                return HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{method} {path} is not allowed; use "
                                                       + ", ".join(f"{m} {p}" for m, p in routes if p == path)}
            return HTTPStatus.NOT_FOUND, {"error": f"no endpoint {method} {path}; endpoints: "
                                          + ", ".join(f"{m} {p}" for m, p in routes)}
        try:
            return HTTPStatus.OK, routes[(method, path)]()
        except (ValueError, FileNotFoundError) as e:  # RequestError and the model's own input errors
            return HTTPStatus.BAD_REQUEST, {"error": str(e)}
        except Exception as e:  # a failure of ours: logged with its traceback, reported without it
            logger.exception("request %s %s failed", method, path)
            return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(e).__name__}: {e}"}

    @staticmethod
    def _json(body: bytes | None) -> Any:
        try:
            return json.loads(body or b"")
        except json.JSONDecodeError as e:
            raise RequestError(f"the request body is not valid JSON: {e}") from None


def make_handler(server: SpiritServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, obj: dict) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._send(*server.handle("GET", self.path, None))

        def do_POST(self) -> None:  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY_BYTES:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length > 0 else HTTPStatus.BAD_REQUEST,
                           {"error": f"Content-Length must be 0..{MAX_BODY_BYTES} bytes, got "
                                     f"{self.headers.get('Content-Length')!r}"})
                self.close_connection = True
                return
            self._send(*server.handle("POST", self.path, self.rfile.read(length)))

        def log_message(self, fmt: str, *args) -> None:
            logger.info("%s %s", self.address_string(), fmt % args)

    return Handler


def serve(lm, name: str = "", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A started-but-not-serving HTTP server (call `.serve_forever()`; port 0 picks a free one)."""
    httpd = ThreadingHTTPServer((host, port), make_handler(SpiritServer(lm, name)))
    httpd.daemon_threads = True
    return httpd
