"""serve: the FastAPI app answers as the Python API does; bad input gets a 4xx JSON error, never a 500 or a hang."""

from __future__ import annotations

import base64
import io
import json
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from spiritlm.generation.pipeline import SpiritLM
from spiritlm.serve import DEFAULT_HOST, ServeConfig, create_app
from spiritlm.serve.run import check_bind
from spiritlm.tokens import format_tokens, units_to_tokens

pytestmark = pytest.mark.usefixtures("one_thread")
TEXT = [{"type": "text", "text": "the cat"}]


@pytest.fixture(scope="module")
def lm(tiny_small_dir):
    from conftest import FakeEncoder, FakeVocoder

    return SpiritLM.from_pretrained(tiny_small_dir, speech_encoder=FakeEncoder(), vocoder=FakeVocoder())


@pytest.fixture(scope="module")
def client(lm):
    from fastapi.testclient import TestClient

    with TestClient(create_app(lm, "tiny-expressive", ServeConfig(max_body_bytes=1 << 20))) as c:
        yield c


def wav_b64(wav) -> str:
    buf = io.BytesIO()
    sf.write(buf, wav, 16000, format="WAV", subtype="FLOAT")
    return base64.b64encode(buf.getvalue()).decode()


def sse(client, body) -> list[tuple[str, dict]]:
    events = []
    with client.stream("POST", "/v1/stream", json=body) as r:
        assert r.status_code == 200, r.read()
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


def test_binds_loopback_by_default_and_needs_a_token_elsewhere():
    assert DEFAULT_HOST == "127.0.0.1"
    check_bind("127.0.0.1", None)
    with pytest.raises(ValueError, match="give an API token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "secret")


def test_health_layout_page_and_openapi(client, lm):
    assert client.get("/health").json() == {"status": "ok", "model": "tiny-expressive", "variant": "expressive"}
    body = client.get("/v1/layout").json()
    assert body["describe"] == lm.layout.describe() and body["context"] == 2048 and body["n_pitch"] == 64
    page = client.get("/")
    assert page.status_code == 200 and "<title>Spirit LM</title>" in page.text
    for f in ("/", "/static/app.js", "/static/style.css"):  # nothing loads from the internet
        assert "://" not in client.get(f).text
    schema = client.get("/openapi.json").json()
    assert {"/health", "/v1/layout", "/v1/generate", "/v1/stream"} <= set(schema["paths"])
    props = schema["paths"]["/v1/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert props["properties"]["do_sample"]["default"] is True


def test_text_generation_matches_the_python_api(client, lm):
    req = {"inputs": TEXT, "output_modality": "text", "max_new_tokens": 12, "seed": 3, "temperature": 0.9}
    r = client.post("/v1/generate", json=req)
    assert r.status_code == 200
    body = r.json()
    direct = lm.generate([("text", "the cat")], output_modality="text", max_new_tokens=12, seed=3, do_sample=True,
                         temperature=0.9)
    assert body["prompt"] == direct.prompt == "[Text]the cat"
    assert "".join(o["text"] for o in body["outputs"]) == direct.text
    assert body["finish_reason"] == direct.finish_reason and body["new_tokens"] == len(direct.new_ids)
    assert client.post("/v1/generate", json=req).json()["outputs"] == body["outputs"]  # seeded: same again
    other = client.post("/v1/generate", json=req | {"seed": 4}).json()["outputs"]
    assert other != body["outputs"]  # sampling is on by default: the seed matters


def test_speech_in_audio_and_units_out_with_wav(client, lm):
    wav = (np.sin(np.arange(6400) / 7.0) * 0.05).astype(np.float32)
    req = {"inputs": [{"type": "speech", "audio": wav_b64(wav)}], "output_modality": "speech", "max_new_tokens": 10,
           "seed": 0}
    body = client.post("/v1/generate", json=req).json()
    direct = lm.generate([("speech", wav)], output_modality="speech", max_new_tokens=10, seed=0, do_sample=True)
    assert body["prompt"] == direct.prompt
    speech = [o for o in body["outputs"] if o["type"] == "speech"]
    expected = [o for o in direct.outputs if o.content_type.name == "SPEECH"]
    assert len(speech) == len(expected) >= 1
    assert [s["units"] for s in speech] == [format_tokens(units_to_tokens(o.units)) for o in expected]
    for s, o in zip(speech, expected):
        audio, rate = sf.read(io.BytesIO(base64.b64decode(s["audio"])), dtype="float32")
        assert rate == 16000 and len(audio) == len(o.content) and s["seconds"] == round(len(o.content) / 16000, 3)
        np.testing.assert_allclose(audio, o.content, atol=1 / 32767)  # 16-bit PCM
    units = format_tokens(units_to_tokens(lm.encode_speech(wav)))
    req2 = {"inputs": [{"type": "speech", "units": units}], "output_modality": "speech", "max_new_tokens": 10,
            "seed": 0, "return_audio": False}
    body2 = client.post("/v1/generate", json=req2).json()
    assert body2["prompt"] == body["prompt"]
    assert [o.get("units") for o in body2["outputs"]] == [o.get("units") for o in body["outputs"]]
    assert all("audio" not in o for o in body2["outputs"])


def test_units_without_a_style_token_use_the_models_default(client):
    """Issue 15: the server used to fill [St71], which a model with fewer styles lacks. The string is taken
    as written, as the Python API takes it (token order kept, nothing filled in)."""
    r = client.post("/v1/generate", json={"inputs": [{"type": "speech", "units": "[Hu5][Pi3][Hu6]"}],
                                          "output_modality": "text", "max_new_tokens": 3})
    assert r.status_code == 200 and r.json()["prompt"] == "[Speech][Hu5][Pi3][Hu6][Text]"


def test_stream_sends_tokens_text_audio_then_done(client, lm):
    events = sse(client, {"inputs": TEXT, "output_modality": "speech", "max_new_tokens": 60, "seed": 1})
    names = [n for n, _ in events]
    assert names[0] == "prompt" and names[-1] == "done" and "error" not in names
    prompt = events[0][1]
    assert prompt["prompt"] == "[Text]the cat[Speech]"
    assert [t["stream"] for t in prompt["tokens"]][0] == "marker" and prompt["tokens"][-1]["value"] == "[Speech]"
    done = events[-1][1]
    tokens = [d for n, d in events if n == "token"]
    assert len(tokens) == done["new_tokens"] and done["finish_reason"] in ("length", "eos", "modality_switch")
    assert (done["finish_reason"] == "length") == (len(tokens) == 60)
    hu = [d["value"] for d in tokens if d["stream"] == "Hu"]
    final_units = "".join(o["units"] for o in done["outputs"] if o["type"] == "speech")
    assert final_units.count("[Hu") == len(hu) and f"[Hu{hu[0]}]" in final_units
    audio = [d for n, d in events if n == "audio"]
    # chunks: the first after 5 [Hu] (ServeConfig.first_chunk_units), then every 25, then the rest;
    # FakeVocoder gives 640 samples per unit
    sizes = [len(sf.read(io.BytesIO(base64.b64decode(a["audio"])))[0]) for a in audio]
    expected = [5, 25, len(hu) - 30] if len(hu) > 30 else [5, len(hu) - 5]
    assert sizes == [640 * n for n in expected if n > 0]
    assert done["timings"]["audio_seconds"] == round(640 * len(hu) / 16000, 3)
    assert 0 < done["timings"]["first_token_s"] <= done["timings"]["first_audio_s"] <= done["timings"]["total_s"]
    assert audio[0]["t"] < tokens[-1]["t"] + 1  # the first chunk is sent before generation ends
    assert [a["index"] for a in audio] == list(range(len(audio)))


def test_stream_text_pieces_add_up_to_the_answer(client):
    for seed in range(3):
        events = sse(client, {"inputs": TEXT, "output_modality": "text", "max_new_tokens": 15, "seed": seed})
        text = "".join(d["text"] for n, d in events if n == "text")
        final = "".join(o["text"] for o in events[-1][1]["outputs"] if o["type"] == "text")
        def tail(x: str) -> str:  # the answer's end is stripped; a trailing partial UTF-8 char is never streamed
            return x.rstrip().rstrip("\ufffd").rstrip()

        assert text and tail(text) == tail(final)


@pytest.mark.parametrize("req, message", [
    ({"inputs": TEXT, "temprature": 1.0}, "unknown request field(s) ['temprature']"),
    ({"inputs": TEXT, "output_modality": "video"}, "unknown output modality 'video'; valid: text, speech, arbitrary"),
    ({"inputs": [{"type": "image"}]}, "inputs[0]: unknown type 'image'; valid: text, speech"),
    ({"inputs": [{"type": "speech", "audio": "%%%"}]}, "inputs[0].audio is not valid base64"),
    ({"inputs": [{"type": "speech", "path": "/etc/passwd"}]}, "needs exactly one of 'audio'"),
    ({"inputs": [{"type": "speech", "units": "[Hu999999]"}]},
     "[Hu999999] is out of range: this Expressive layout has 501"),
    ({"inputs": []}, "'inputs' must be a non-empty list"),
    ({"prompt": "[Text]a", "inputs": TEXT}, "give exactly one of 'inputs'"),
    ({"inputs": TEXT, "max_new_tokens": 0}, "'max_new_tokens' must be between 1 and 4096"),
    ({"inputs": TEXT, "max_new_tokens": "5"}, "'max_new_tokens' must be int, got str"),
    ({"inputs": TEXT, "temperature": "hot"}, "'temperature' must be int/float"),
    ({"inputs": TEXT, "temperature": 0}, "temperature must be > 0 and <= 100, got 0"),
    ({"inputs": TEXT, "top_p": 1.5}, "top_p must be > 0 and <= 1, got 1.5"),
    ({"inputs": TEXT, "do_sample": False, "temperature": 0.7, "top_k": 5},
     "temperature, top_k apply only when sampling"),
    ({"inputs": TEXT, "seed": -1}, "seed must be an integer 0..4294967295"),
    ({"inputs": TEXT, "speaker_id": 10**6, "output_modality": "speech", "max_new_tokens": 3}, None),
    ({"inputs": TEXT, "max_new_tokens": 2048}, "tokens and max_new_tokens is 2048: together over this model's "
     "context of 2048 tokens; shorten the prompt or ask for at most"),
    ([1, 2], "the request body must be a JSON object"),
])
def test_bad_requests_say_what_is_wrong(client, req, message):
    r = client.post("/v1/generate", json=req)
    if message is None:  # the FakeVocoder takes any speaker: a real one says which ids exist
        assert r.status_code == 200
        return
    assert r.status_code == 400 and message in r.json()["error"], r.json()


@pytest.mark.parametrize("raw, status, message", [
    (b"{not json", 400, "not valid JSON"),
    (b"[" * 50000 + b"]" * 50000, 400, "nests deeper than 32 levels"),
    (b'{"inputs": [{"type": "text", "text": "a"}], "temperature": 1e400}', 400, "finite number"),
    (b'{"inputs": [{"type": "text", "text": "a"}], "top_p": NaN}', 400, "finite number"),
    (b'{"inputs": [{"type": "text", "text": "' + b"a" * (2 << 20) + b'"}]}', 413, "0..1048576 bytes, got 2097194"),
    (b"\xff\xfe", 400, "not valid JSON"),
])
def test_bad_bodies(client, raw, status, message):
    r = client.post("/v1/generate", content=raw)
    assert r.status_code == status and message in r.json()["error"], r.text[:200]
    r = client.post("/v1/stream", content=raw)  # the streaming endpoint refuses before it starts streaming
    assert r.status_code == status and message in r.json()["error"]


def test_bad_paths_and_methods(client):
    r = client.get("/v2/chat")
    assert r.status_code == 404 and "endpoints: GET /health, GET /v1/layout, POST /v1/generate" in r.json()["error"]
    r = client.get("/v1/generate")
    assert r.status_code == 405 and "use POST /v1/generate" in r.json()["error"]
    r = client.post("/v1/generate", content=b"{}", headers={"Content-Length": str(10**9)})
    assert r.status_code == 413 and "Content-Length must be 0..1048576 bytes" in r.json()["error"]
    sent = []

    def chunks():  # no Content-Length (chunked): refused once 1 MiB arrived, not read to the end
        for _ in range(64):
            sent.append(1)
            yield b"a" * 65536

    r = client.post("/v1/generate", content=chunks())
    assert r.status_code == 413 and "the request body is over 1048576 bytes" in r.json()["error"]


def test_a_token_guards_the_api_but_not_the_page(lm):
    from fastapi.testclient import TestClient

    with TestClient(create_app(lm, "t", ServeConfig(token="s3cret"))) as c:
        assert c.get("/").status_code == 200 and c.get("/health").status_code == 200
        r = c.post("/v1/generate", json={"inputs": TEXT, "max_new_tokens": 2})
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["error"]
        r = c.post("/v1/generate", json={"inputs": TEXT, "max_new_tokens": 2},
                   headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.json()["new_tokens"] >= 1


def test_batching_queue_limit_and_retry_after(lm):
    """Requests that wait together run as one batch; past the queue bound: 429 with Retry-After."""
    from fastapi.testclient import TestClient

    calls = []
    real = lm.generate_batch

    def spy(prompts, **kw):
        calls.append(len(prompts))
        time.sleep(0.3)
        return real(prompts, **kw)

    app = create_app(lm, "t", ServeConfig(max_batch=4, max_queue=3))
    app.state.batcher.lm = type("Spy", (), {"generate_batch": staticmethod(spy), "layout": lm.layout,
                                            "tokenizer": lm.tokenizer})()
    results = []
    with TestClient(app) as c:
        def one():
            results.append(c.post("/v1/generate", json={"inputs": TEXT, "output_modality": "text",
                                                        "max_new_tokens": 4}))
        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
            time.sleep(0.02)
        for t in threads:
            t.join()
    codes = sorted(r.status_code for r in results)
    busy = [r for r in results if r.status_code == 429]
    assert codes.count(200) >= 4 and max(calls) > 1 and sum(calls) == codes.count(200)
    assert all(int(r.headers["Retry-After"]) >= 1 and "busy" in r.json()["error"] for r in busy)
    assert len(busy) == 6 - codes.count(200)


def test_short_requests_are_not_held_by_a_long_one(lm):
    from fastapi.testclient import TestClient

    with TestClient(create_app(lm, "t")) as c:
        long_done = []
        t = threading.Thread(target=lambda: long_done.append(c.post("/v1/generate", json={
            "inputs": TEXT, "output_modality": "text", "max_new_tokens": 2000, "top_k": 0}).json()))
        t.start()
        time.sleep(0.3)
        start = time.perf_counter()
        assert c.get("/health").status_code == 200
        short = c.post("/v1/generate", json={"inputs": TEXT, "output_modality": "text", "max_new_tokens": 3})
        elapsed = time.perf_counter() - start
        t.join()
    assert short.status_code == 200 and long_done and long_done[0]["new_tokens"] > 100
    assert elapsed < long_done[0]["seconds"]  # it did not wait for the long one


def test_time_limit_stops_a_request(lm, monkeypatch):
    from fastapi.testclient import TestClient

    from spiritlm.serve import batcher

    # each decoding step made 0.2 s long, so the 0.3 s limit stops the request at its second token on any CPU
    step = batcher.StepHook.__call__

    def slow_step(self, ids, scores):
        time.sleep(0.2)
        return step(self, ids, scores)

    monkeypatch.setattr(batcher.StepHook, "__call__", slow_step)
    with TestClient(create_app(lm, "t", ServeConfig(time_limit_s=0.3))) as c:
        r = c.post("/v1/generate", json={"inputs": TEXT, "output_modality": "text", "max_new_tokens": 2000,
                                         "seed": 0})
    assert r.status_code == 200 and r.json()["finish_reason"] == "time_limit" and r.json()["seconds"] < 5


def test_the_step_hook_stops_rows_that_are_done_cancelled_or_late():
    import torch

    from spiritlm.serve.batcher import Job, StepHook
    from spiritlm.serve.requests import parse_request

    def job(max_new: int, deadline: float = 1e18) -> Job:
        req = parse_request({"inputs": TEXT, "max_new_tokens": max_new})
        return Job(req, None, None, None, 0.0, deadline)

    jobs = [job(5), job(2), job(5), job(5, deadline=0.0)]
    hook = StepHook(jobs, width=3, stop_ids={99})
    ids = torch.tensor([[1, 2, 3, 7, 8]] * 4)  # two new tokens per row
    jobs[2].cancelled.set()
    assert hook(ids, None).tolist() == [False, True, True, True]
    assert [j.reason for j in jobs] == [None, "length", "cancelled", "time_limit"]
    ids = torch.cat([ids, torch.tensor([[99]] * 4)], dim=1)  # row 0 emits a stop id
    assert hook(ids, None).tolist() == [True] * 4 and jobs[0].reason is None and jobs[0].n_new == 3


def test_a_client_that_goes_away_cancels_its_generation(lm):
    import httpx

    from spiritlm.serve.run import BackgroundServer

    app = create_app(lm, "t")
    batcher = app.state.batcher
    reasons, render = [], batcher.render
    batcher.render = lambda job, result: reasons.append((result.finish_reason, job.n_new)) or render(job, result)
    with BackgroundServer(app) as url:
        req = {"inputs": TEXT, "output_modality": "text", "max_new_tokens": 2000, "top_k": 0}
        with httpx.stream("POST", url + "/v1/stream", json=req, timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith("event: token"):
                    break  # generation has started: hang up
        for _ in range(200):
            if reasons:
                break
            time.sleep(0.05)
    assert reasons and reasons[0][0] == "cancelled" and reasons[0][1] < 2000
