"""ASGI middleware in front of the app: API token, body size limit enforced while reading, read timeout.

The whole request body is read here, chunk by chunk, before the app sees it: a body over `max_body`
bytes is refused with 413 as soon as its Content-Length says so or as soon as that many bytes arrived
(never buffered further), and a body that stops arriving (a Content-Length larger than what is sent)
gets 408 after `read_timeout` seconds instead of holding a connection.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time

OPEN_PATHS = ("/", "/health", "/static/", "/docs", "/openapi.json")


async def send_json(send, status: int, obj: dict, headers: dict | None = None) -> None:
    data = json.dumps(obj).encode()
    extra = [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": data})


class RequestLimits:
    def __init__(self, app, max_body: int, read_timeout: float, token: str | None = None):
        self.app, self.max_body, self.read_timeout, self.token = app, max_body, read_timeout, token

    def _authorized(self, scope) -> bool:
        path = scope.get("path", "")
        if self.token is None or path == "/" or any(path.startswith(p) for p in OPEN_PATHS[1:]):
            return True
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        return hmac.compare_digest(given, f"Bearer {self.token}")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self._authorized(scope):
            return await send_json(send, 401, {"error": "this server needs an API token: send the header "
                                               "'Authorization: Bearer <token>' (the page has a token field)"})
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                return await send_json(send, 400, {"error": f"Content-Length must be a byte count, got {declared!r}"})
            if length > self.max_body:
                return await send_json(send, 413, {"error": f"Content-Length must be 0..{self.max_body} bytes, "
                                                   f"got {length}: the body is too large for this server"})
        body, error = await self._read(receive)
        if error is not None:
            return await send_json(send, *error)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: http.disconnect when the client goes away

        return await self.app(scope, replay, send)

    async def _read(self, receive) -> tuple[bytes, tuple | None]:
        chunks, size = [], 0
        end = time.monotonic() + self.read_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, end - time.monotonic()))
            except asyncio.TimeoutError:
                return b"", (408, {"error": f"the request body did not arrive within {self.read_timeout:g} s "
                                            f"({size} bytes came; is Content-Length larger than the body?)"})
            if message["type"] == "http.disconnect":
                return b"", (400, {"error": "the client disconnected before sending the whole body"})
            piece = message.get("body", b"")
            size += len(piece)
            if size > self.max_body:
                return b"", (413, {"error": f"the request body is over {self.max_body} bytes, this server's limit"})
            chunks.append(piece)
            if not message.get("more_body", False):
                return b"".join(chunks), None
