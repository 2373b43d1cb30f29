"""`spiritlm serve` as a process: a short body times out with 408, SIGTERM/SIGINT finish the request in flight."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def start(model_dir):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "spiritlm.cli", "serve", "--model", str(model_dir),
                             "--port", "0", "--threads", "1", "--grace", "20", "--read-timeout", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if "serving" not in line:
        proc.kill()
        pytest.fail(f"the server did not start: {line} {proc.stderr.read()[-2000:]}")
    return proc, int(line.split("http://127.0.0.1:")[1].split("/")[0])


@pytest.fixture(scope="module")
def server(tiny_small_dir):
    """One process for the 408 test and then the SIGTERM test (starting one takes seconds)."""
    proc, port = start(tiny_small_dir)
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def post(port: int, body: bytes, declared: int | None = None, timeout: float = 60) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        head = (f"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body) if declared is None else declared}\r\n\r\n").encode()
        s.sendall(head + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(rest)


def test_content_length_larger_than_the_body_gets_408(server, monkeypatch):
    _, port = server
    start = time.monotonic()
    status, body = post(port, b'{"inputs": []}', declared=500)
    assert status == 408 and "did not arrive within 2 s (14 bytes came" in body["error"]
    assert time.monotonic() - start < 6


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_request_in_flight(server, tiny_small_dir, sig):
    proc, port = server if sig == signal.SIGTERM else start(tiny_small_dir)
    req = json.dumps({"inputs": [{"type": "text", "text": "the cat"}], "output_modality": "text",
                      "max_new_tokens": 1500, "top_k": 0}).encode()
    got = []
    t = threading.Thread(target=lambda: got.append(post(port, req)))
    t.start()
    time.sleep(1.0)  # the request is generating
    proc.send_signal(sig)
    t.join(60)
    proc.wait(30)
    assert got and got[0][0] == 200 and got[0][1]["new_tokens"] > 1, got
    assert proc.returncode == 0, proc.stderr.read()[-2000:]
