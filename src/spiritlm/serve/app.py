"""The FastAPI app: shared state (model, batcher, vocoder thread) and thin handlers.

    GET  /               the web page (static files of this package; nothing loads from the internet)
    GET  /health         {"status": "ok", "model": ..., "variant": "base" | "expressive"}
    GET  /v1/layout      the token layout
    POST /v1/generate    one prompt -> text and/or speech (JSON)
    POST /v1/stream      the same request -> Server-Sent Events: prompt, token, text, audio, ..., done | error
    GET  /docs, /openapi.json

Every bad request gets a 4xx JSON body {"error": "..."} naming the problem (400 validation, 401 token,
404/405 routes, 408 slow body, 413 large body, 429 busy with Retry-After, 503 shutting down / waited too long).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import Request

from .batcher import Batcher, Job, QueueFull
from .limits import RequestLimits
from .requests import RequestError, parse_json, parse_request
from .schema import GENERATE_OPENAPI
from .streaming import TokenStream, token_events, wav_base64

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
HU_PER_SECOND = 25


@dataclass(frozen=True)
class ServeConfig:
    max_batch: int = 8
    max_queue: int = 64
    time_limit_s: float = 120.0  # per request, queue wait included
    max_body_bytes: int = 16 * 1024 * 1024
    read_timeout_s: float = 10.0
    token: str | None = None
    first_chunk_units: int = 5  # [Hu] units before the first audio chunk (0.2 s of speech)
    chunk_units: int = 25

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_body_bytes", "first_chunk_units", "chunk_units"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        for name in ("time_limit_s", "read_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)!r}")


def context_length(lm) -> int:
    return int(getattr(lm.model.config, "max_position_embeddings", 0) or 1 << 30)


def prepare(lm, req):
    """Decode audio, check lengths against the context (before any model work), build the prompt."""
    from ..audio import load_audio
    from ..generation.types import OutputModality

    ctx = context_length(lm)
    if "prompt" in req.call:
        call = req.call["prompt"]
    else:
        call = []
        for n, (kind, content) in enumerate(req.call["inputs"]):
            if kind == "speech" and isinstance(content, bytes):
                content = load_audio(content)
                units = len(content) / 16000 * HU_PER_SECOND
                if units > ctx:
                    raise RequestError(f"inputs[{n}] is {len(content) / 16000:.1f} s of audio, about {units:.0f} "
                                       f"speech tokens: longer than this model's context of {ctx} tokens")
            call.append((kind, content))
    from ..generation.prompt import prompt_from_string

    modality = OutputModality.parse(req.output_modality)
    prompt = prompt_from_string(call, lm.tokenizer) if isinstance(call, str) else lm.build_prompt(call, modality)
    if len(prompt.ids) + req.max_new_tokens > ctx:
        raise RequestError(f"the prompt is {len(prompt.ids)} tokens and max_new_tokens is {req.max_new_tokens}: "
                           f"together over this model's context of {ctx} tokens; shorten the prompt or "
                           f"ask for at most {max(0, ctx - len(prompt.ids))} new tokens")
    return prompt


def render(lm, job, result) -> dict:
    from ..generation.types import ContentType
    from ..tokens import format_tokens, units_to_tokens

    outputs: list[dict[str, Any]] = []
    for o in result.outputs:
        if o.content_type is ContentType.TEXT:
            outputs.append({"type": "text", "text": o.content})
            continue
        piece: dict[str, Any] = {"type": "speech", "units": format_tokens(units_to_tokens(o.units))}
        if o.content is not None and job.stream is None:
            piece["seconds"] = round(len(o.content) / 16000, 3)
            if job.req.return_audio:
                piece["audio"] = wav_base64(o.content)
        outputs.append(piece)
    pad = lm.tokenizer.pad_id
    return {"outputs": outputs, "prompt": result.prompt, "finish_reason": result.finish_reason,
            "new_tokens": sum(i != pad for i in result.new_ids[: job.n_new or None]),
            "seconds": round(time.perf_counter() - job.arrived, 3)}


class State:
    def __init__(self, lm, name: str, config: ServeConfig):
        self.lm, self.name, self.config = lm, name, config
        self.vocode_pool = ThreadPoolExecutor(1, thread_name_prefix="spiritlm-vocoder")
        self.batcher = Batcher(lm, lambda job, result: render(lm, job, result), config.max_batch, config.max_queue)

    def close(self, timeout: float | None = None) -> None:
        self.batcher.close(timeout)
        self.vocode_pool.shutdown(wait=True)

    async def job(self, body: bytes, arrived: float, emit=None) -> Job:
        req = parse_request(parse_json(body))
        try:
            prompt = await asyncio.to_thread(prepare, self.lm, req)
        except (ValueError, TypeError, FileNotFoundError) as e:  # the library's own input errors
            raise RequestError(str(e), getattr(e, "status", 400)) from None
        loop = asyncio.get_running_loop()
        job = Job(req, prompt, loop, loop.create_future(), arrived, arrived + self.config.time_limit_s)
        if emit is not None:
            job.stream = TokenStream(self.lm, arrived, emit, self.vocode_pool, req.speaker_id,
                                     self.config.first_chunk_units, self.config.chunk_units)
        self.batcher.submit(job)
        return job


def _error(status: int, message: str, headers: dict | None = None):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _install_errors(app, routes: list[tuple[str, str]]) -> None:
    from starlette.exceptions import HTTPException

    listing = ", ".join(f"{m} {p}" for m, p in routes)

    @app.exception_handler(RequestError)
    async def request_error(request, exc: RequestError):
        return _error(exc.status, str(exc))

    @app.exception_handler(QueueFull)
    async def queue_full(request, exc: QueueFull):
        return _error(429, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        path = request.url.path.rstrip("/") or "/"
        if exc.status_code == 405:
            allowed = [f"{m} {p}" for m, p in routes if p == path]
            return _error(405, f"{request.method} {path} is not allowed; use {', '.join(allowed)}")
        if exc.status_code == 404:
            return _error(404, f"no endpoint {request.method} {path}; endpoints: {listing}")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal(request, exc: Exception):
        logger.exception("request %s %s failed", request.method, request.url.path)
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _await_job(request, job: Job) -> dict:
    """The job's result; the job is cancelled when the client disconnects first."""
    while True:
        done, _ = await asyncio.wait({job.future}, timeout=0.25)
        if done:
            return job.future.result()
        if await request.is_disconnected():
            job.cancelled.set()
            return await job.future


def create_app(lm, name: str = "", config: ServeConfig | None = None):
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, StreamingResponse
    from fastapi.staticfiles import StaticFiles

    config = config or ServeConfig()
    state = State(lm, name, config)
    static = resources.files("spiritlm.serve").joinpath("static")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.to_thread(state.close)

    app = FastAPI(title="spiritlm", version="0.1", lifespan=lifespan,
                  description="Spirit LM: interleaved speech and text generation. See the README for examples.")
    app.state.spirit = state
    routes = [("GET", "/health"), ("GET", "/v1/layout"), ("POST", "/v1/generate"), ("POST", "/v1/stream"),
              ("GET", "/"), ("GET", "/docs"), ("GET", "/openapi.json")]
    _install_errors(app, routes)
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(str(static / "index.html"))

    @app.get("/health", summary="Liveness and which model is served")
    async def health():
        return {"status": "ok", "model": name, "variant": "expressive" if lm.is_expressive else "base"}

    @app.get("/v1/layout", summary="The token layout (vocabulary sizes, id ranges)")
    async def layout():
        return {"model": name, "describe": lm.layout.describe(), "expressive": lm.is_expressive,
                "context": context_length(lm), "n_hubert": lm.layout.n_hubert, "n_pitch": lm.layout.n_pitch,
                "n_style": lm.layout.n_style}

    @app.post("/v1/generate", summary="Generate text and/or speech (one JSON answer)", openapi_extra=GENERATE_OPENAPI)
    async def generate(request: Request):
        job = await state.job(await request.body(), time.perf_counter())
        return await _await_job(request, job)

    @app.post("/v1/stream", summary="Generate, streamed as Server-Sent Events (text pieces, audio chunks, done)",
              openapi_extra=GENERATE_OPENAPI)
    async def stream(request: Request):
        queue: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def emit(event: str, data: dict) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (event, data))

        job = await state.job(await request.body(), time.perf_counter(), emit)
        return StreamingResponse(_events(job, queue), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _events(job: Job, queue: asyncio.Queue):
        try:
            yield _sse("prompt", {"prompt": job.prompt.text, "tokens": token_events(lm, job.prompt.ids)})
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, job.future}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield _sse(*getter.result())
                    continue
                getter.cancel()
                while not queue.empty():
                    yield _sse(*queue.get_nowait())
                try:
                    body = job.future.result()
                except RequestError as e:
                    yield _sse("error", {"error": str(e), "status": e.status})
                    return
                except Exception as e:
                    logger.exception("stream failed")
                    yield _sse("error", {"error": f"internal error: {type(e).__name__}: {e}", "status": 500})
                    return
                timings = job.stream.timings() | {"queued_s": round((job.started or job.arrived) - job.arrived, 4),
                                                  "total_s": round(time.perf_counter() - job.arrived, 4)}
                yield _sse("done", body | {"timings": timings})
                return
        finally:  # the client went away (or we are done): stop generating for it
            job.cancelled.set()

    wrapped = RequestLimits(app, config.max_body_bytes, config.read_timeout_s, config.token)
    wrapped.fastapi, wrapped.state = app, state
    return wrapped
