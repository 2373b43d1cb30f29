"""Running the app under uvicorn: loopback by default, a token for any other bind, graceful shutdown.

On SIGTERM or SIGINT uvicorn stops accepting connections and waits up to `grace_s` for the requests in
flight; then the batcher finishes what it runs and its threads are joined before the process exits.
"""

from __future__ import annotations

import contextlib
import logging
import signal

from .app import DEFAULT_HOST, DEFAULT_PORT, ServeConfig, create_app

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_bind(host: str, token: str | None) -> None:
    if host not in LOOPBACK and not token:
        raise ValueError(f"binding {host!r} makes the server reachable from other machines: give an API token "
                         "(--token or SPIRITLM_API_TOKEN), or bind 127.0.0.1")


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises the signal after its graceful shutdown (exit -15, or a KeyboardInterrupt traceback for
        SIGINT); this one returns, so that the requests in flight are finished and the process exits 0."""

        @contextlib.contextmanager
        def capture_signals(self):
            previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)

    return Server


def serve(lm, name: str = "", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, config: ServeConfig | None = None,
          grace_s: float = 30.0, on_ready=None) -> None:
    """Serve until SIGTERM/SIGINT. `on_ready(host, port)` is called once the socket listens (port 0: a free one)."""
    import uvicorn

    config = config or ServeConfig()
    check_bind(host, config.token)
    app = create_app(lm, name, config)
    server = _server_class()(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=grace_s, timeout_keep_alive=5))
    if on_ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets)
            bound = server.servers[0].sockets[0].getsockname()[:2] if server.servers else (host, port)
            on_ready(*bound)

        server.startup = startup
    server.run()


class BackgroundServer:
    """The app under uvicorn in a thread on a free loopback port (tests, benchmarks, screenshots):
    `with BackgroundServer(app) as url: ...`."""

    def __init__(self, app, host: str = DEFAULT_HOST):
        import threading

        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        import time

        self.thread.start()
        for _ in range(600):
            if self.server.started:
                host, port = self.server.servers[0].sockets[0].getsockname()[:2]
                return f"http://{host}:{port}"
            time.sleep(0.05)
        raise RuntimeError("the server did not start within 30 s")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(60)
