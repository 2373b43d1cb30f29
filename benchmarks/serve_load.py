"""Server load: many concurrent clients against `spiritlm serve` on the mini Expressive model.

One server process (loopback only) serves two phases in the same run:
  1. baseline: one client, one request at a time (what the old one-at-a-time server could give at best);
  2. load: `--clients` concurrent clients for `--seconds`, a mix of T->T (/v1/generate), T->S (/v1/stream,
     audio chunks timed), S->T (/v1/generate with a wav) and `--malformed` malformed requests (must get 4xx).
It prints p50/p95 latency per kind, time to the first audio chunk (and its lag behind the first speech
unit), throughput against the baseline, failures, and the server's RSS at start, peak and end.

    nice -n 10 .venv/bin/python benchmarks/serve_load.py --clients 50 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

KINDS = ("T->T", "T->S", "S->T", "bad")
BAD_BODIES = [b"{not json", b"[" * 5000 + b"]" * 5000, b'{"inputs": [{"type": "text", "text": "a"}], "top_p": 1e400}',
              b'{"inputs": []}', b'{"inputs": [{"type": "speech", "audio": "%%%"}]}', b'{"prompt": 5}',
              b'{"inputs": [{"type": "text", "text": "a"}], "max_new_tokens": 0}']


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.peak = max(self.peak, rss_mb(self.pid))


def start_server(model: str, threads: int, first_chunk: int = 5) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "spiritlm.cli", "serve", "--model", model, "--port", "0",
                             "--threads", str(threads), "--max-queue", "256",
                             "--first-chunk-units", str(first_chunk)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "serving" not in line:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, line.split(" on ")[1].split("/ ")[0].rstrip("/")


def speech_b64() -> str:
    import io

    import soundfile as sf

    from spiritlm.audio import load_audio
    from spiritlm.cli.lm_commands import mini_examples

    wav = load_audio(mini_examples()["speech"]["file"])[: 16000 * 3]
    buf = io.BytesIO()
    sf.write(buf, wav, 16000, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode()


def body_for(kind: str, rng: random.Random, audio: str) -> bytes:
    texts = ["The cat sat on the", "Once upon a time", "The weather today is", "She opened the door and"]
    common = {"temperature": 0.8, "top_p": 0.95}
    if kind == "T->T":
        req = {"inputs": [{"type": "text", "text": rng.choice(texts)}], "output_modality": "text", "max_new_tokens": 30}
    elif kind == "T->S":
        req = {"inputs": [{"type": "text", "text": rng.choice(texts)}], "output_modality": "speech",
               "max_new_tokens": 80}
    elif kind == "S->T":
        req = {"inputs": [{"type": "speech", "audio": audio}], "output_modality": "text", "max_new_tokens": 30}
    else:
        return rng.choice(BAD_BODIES)
    return json.dumps(req | common).encode()


async def one(client: httpx.AsyncClient, kind: str, body: bytes) -> dict:
    start = time.perf_counter()
    rec = {"kind": kind, "ok": False}
    if kind == "T->S":
        async with client.stream("POST", "/v1/stream", content=body) as r:
            rec["status"] = r.status_code
            name = None
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name in ("audio", "done", "error"):
                    data = json.loads(line[6:])
                    if name == "audio" and "first_audio" not in rec:
                        rec["first_audio"] = time.perf_counter() - start
                    if name == "done":
                        rec["ok"] = True
                        rec["audio_lag"] = (None if data["timings"]["first_audio_s"] is None else
                                            data["timings"]["first_audio_s"] - data["timings"]["first_unit_s"])
                    if name == "error":
                        rec["error"] = data["error"]
    else:
        r = await client.post("/v1/generate", content=body, headers={"Content-Type": "application/json"})
        rec["status"] = r.status_code
        rec["ok"] = (400 <= r.status_code < 500) if kind == "bad" else r.status_code == 200
        if not rec["ok"]:
            rec["error"] = r.text[:200]
    rec["latency"] = time.perf_counter() - start
    return rec


async def clients(url: str, n: int, seconds: float, malformed: float, audio: str, seed: int) -> list[dict]:
    records: list[dict] = []
    end = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=n + 4, max_keepalive_connections=n + 4)

    async def loop(i: int, client: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + i)
        while time.perf_counter() < end:
            kind = "bad" if rng.random() < malformed else rng.choice(KINDS[:3])
            try:
                records.append(await one(client, kind, body_for(kind, rng, audio)))
            except httpx.HTTPError as e:
                records.append({"kind": kind, "ok": False, "error": repr(e), "latency": float("nan")})

    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        await asyncio.gather(*(loop(i, client) for i in range(n)))
    return records


async def warm_up(url: str, audio: str) -> list[dict]:
    rng = random.Random(0)
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        return [await one(client, kind, body_for(kind, rng, audio)) for kind in KINDS]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def report(name: str, records: list[dict], seconds: float) -> dict:
    out = {"phase": name, "requests": len(records), "seconds": round(seconds, 1)}
    valid = [r for r in records if r["kind"] != "bad"]
    out["valid"], out["valid_failures"] = len(valid), sum(not r["ok"] for r in valid)
    out["malformed"] = sum(r["kind"] == "bad" for r in records)
    out["malformed_not_4xx"] = sum(not r["ok"] for r in records if r["kind"] == "bad")
    out["valid_per_s"] = round(sum(r["ok"] for r in valid) / seconds, 3)
    for kind in KINDS[:3]:
        lat = [r["latency"] for r in valid if r["kind"] == kind and r["ok"]]
        out[kind] = {"n": len(lat), "p50_s": round(pct(lat, 50), 3), "p95_s": round(pct(lat, 95), 3)}
    fa = [r["first_audio"] for r in valid if "first_audio" in r]
    lag = [r["audio_lag"] for r in valid if r.get("audio_lag") is not None]
    out["first_audio_p50_s"], out["first_audio_p95_s"] = round(pct(fa, 50), 3), round(pct(fa, 95), 3)
    out["audio_after_first_unit_p50_s"], out["audio_after_first_unit_p95_s"] = round(pct(lag, 50), 3), \
        round(pct(lag, 95), 3)
    errors = [r.get("error") for r in valid if not r["ok"]][:3]
    if errors:
        out["first_errors"] = errors
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="spirit-lm-mini-expressive")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--baseline-seconds", type=float, default=30)
    ap.add_argument("--malformed", type=float, default=0.10)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the server")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--first-chunk-units", type=int, default=5, help="the server's --first-chunk-units")
    args = ap.parse_args()
    proc, url = start_server(args.model, args.threads, args.first_chunk_units)
    sampler = RssSampler(proc.pid)
    try:
        audio = speech_b64()
        warm = asyncio.run(warm_up(url, audio))  # loads the speech encoder and vocoder
        rss_start = rss_mb(proc.pid)
        sampler.start()
        t0 = time.perf_counter()
        base = asyncio.run(clients(url, 1, args.baseline_seconds, 0.0, audio, args.seed))
        base_report = report("one at a time", base, time.perf_counter() - t0)
        t0 = time.perf_counter()
        load = asyncio.run(clients(url, args.clients, args.seconds, args.malformed, audio, args.seed + 1))
        load_report = report(f"{args.clients} clients", load, time.perf_counter() - t0)
        time.sleep(1.0)
        rss_end = rss_mb(proc.pid)
    finally:
        sampler.stop.set()
        proc.terminate()
        proc.wait(60)
    result = {"model": args.model, "warmup_requests": len(warm), "baseline": base_report, "load": load_report,
              "throughput_ratio": round(load_report["valid_per_s"] / max(base_report["valid_per_s"], 1e-9), 2),
              "server_rss_mb": {"start": round(rss_start), "peak": round(max(sampler.peak, rss_end)),
                                "end": round(rss_end)},
              "server_exit": proc.returncode}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
