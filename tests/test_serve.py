"""serve: the HTTP JSON server answers as the Python API does, over a real socket on loopback."""

from __future__ import annotations

import base64
import http.client
import io
import json
import threading

import numpy as np
import pytest
import soundfile as sf

from spiritlm.generation.pipeline import SpiritLM
from spiritlm.serve import DEFAULT_HOST, serve
from spiritlm.tokens import format_tokens, units_to_tokens

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lm(tiny_small_dir):
    from conftest import FakeEncoder, FakeVocoder

    return SpiritLM.from_pretrained(tiny_small_dir, speech_encoder=FakeEncoder(), vocoder=FakeVocoder())


@pytest.fixture(scope="module")
def server(lm):
    httpd = serve(lm, "tiny-expressive", port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[:2]
    httpd.shutdown()
    httpd.server_close()


def request(server, method, path, body=None, raw: bytes | None = None, headers=None):
    conn = http.client.HTTPConnection(*server, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=headers or {})
    resp = conn.getresponse()
    out = json.loads(resp.read())
    conn.close()
    return resp.status, out


def test_binds_loopback_by_default(lm):
    httpd = serve(lm, port=0)
    assert DEFAULT_HOST == "127.0.0.1" and httpd.server_address[0] == "127.0.0.1"
    httpd.server_close()


def test_health_and_layout(server, lm):
    assert request(server, "GET", "/health") == (200, {"status": "ok", "model": "tiny-expressive",
                                                       "variant": "expressive"})
    status, body = request(server, "GET", "/v1/layout")
    assert status == 200 and body["describe"] == lm.layout.describe()


def test_text_generation_matches_the_python_api(server, lm):
    req = {"inputs": [{"type": "text", "text": "the cat"}], "output_modality": "text", "max_new_tokens": 12,
           "seed": 3, "do_sample": True, "temperature": 0.9}
    status, body = request(server, "POST", "/v1/generate", req)
    assert status == 200
    direct = lm.generate([("text", "the cat")], output_modality="text", max_new_tokens=12, seed=3, do_sample=True,
                         temperature=0.9)
    assert body["prompt"] == direct.prompt == "[Text]the cat"
    assert [o["type"] for o in body["outputs"]] == ["text"] * len(direct.outputs)
    assert "".join(o["text"] for o in body["outputs"]) == direct.text
    assert body["finish_reason"] == direct.finish_reason and body["new_tokens"] == len(direct.new_ids)
    assert request(server, "POST", "/v1/generate", req)[1]["outputs"] == body["outputs"]  # seeded: same again


def test_speech_in_audio_and_units_out_with_wav(server, lm):
    wav = (np.sin(np.arange(6400) / 7.0) * 0.05).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, wav, 16000, format="WAV", subtype="FLOAT")
    req = {"inputs": [{"type": "speech", "audio": base64.b64encode(buf.getvalue()).decode()}],
           "output_modality": "speech", "max_new_tokens": 10, "seed": 0}
    status, body = request(server, "POST", "/v1/generate", req)
    assert status == 200, body
    direct = lm.generate([("speech", wav)], output_modality="speech", max_new_tokens=10, seed=0)
    assert body["prompt"] == direct.prompt
    speech = [o for o in body["outputs"] if o["type"] == "speech"]
    expected = [o for o in direct.outputs if o.content_type.name == "SPEECH"]
    assert len(speech) == len(expected) >= 1
    assert [s["units"] for s in speech] == [format_tokens(units_to_tokens(o.units)) for o in expected]
    for s, o in zip(speech, expected):
        audio, rate = sf.read(io.BytesIO(base64.b64decode(s["audio"])), dtype="float32")
        assert rate == 16000 and len(audio) == len(o.content) and s["seconds"] == round(len(o.content) / 16000, 3)
        np.testing.assert_allclose(audio, o.content, atol=1 / 32767)  # 16-bit PCM
    # the same speech as a unit string, and without audio in the answer
    units = format_tokens(units_to_tokens(lm.encode_speech(wav)))
    req2 = {"inputs": [{"type": "speech", "units": units}], "output_modality": "speech", "max_new_tokens": 10,
            "seed": 0, "return_audio": False}
    status, body2 = request(server, "POST", "/v1/generate", req2)
    assert status == 200 and body2["prompt"] == body["prompt"]
    assert [o.get("units") for o in body2["outputs"]] == [o.get("units") for o in body["outputs"]]
    assert all("audio" not in o for o in body2["outputs"])


@pytest.mark.parametrize("req, message", [
    ({"inputs": [{"type": "text", "text": "a"}], "temprature": 1.0}, "unknown request field(s) ['temprature']"),
    ({"inputs": [{"type": "text", "text": "a"}], "output_modality": "video"},
     "unknown output modality 'video'; valid: text, speech, arbitrary"),
    ({"inputs": [{"type": "image"}]}, "inputs[0]: unknown type 'image'; valid: text, speech"),
    ({"inputs": [{"type": "speech", "audio": "%%%"}]}, "inputs[0].audio is not valid base64"),
    ({"inputs": [{"type": "speech", "path": "/etc/passwd"}]}, "needs exactly one of 'audio'"),
    ({"inputs": []}, "'inputs' must be a non-empty list"),
    ({"prompt": "[Text]a", "inputs": [{"type": "text", "text": "a"}]}, "give exactly one of 'inputs'"),
    ({"inputs": [{"type": "text", "text": "a"}], "max_new_tokens": 0}, "'max_new_tokens' must be between 1 and"),
    ({"inputs": [{"type": "text", "text": "a"}], "temperature": "hot"}, "'temperature' must be int/float"),
])
def test_bad_requests_say_what_is_wrong(server, req, message):
    status, body = request(server, "POST", "/v1/generate", req)
    assert status == 400 and message in body["error"], body


def test_bad_paths_methods_and_bodies(server):
    status, body = request(server, "GET", "/v2/chat")
    assert status == 404 and "endpoints: GET /health, GET /v1/layout, POST /v1/generate" in body["error"]
    status, body = request(server, "GET", "/v1/generate")
    assert status == 405 and "use POST /v1/generate" in body["error"]
    status, body = request(server, "POST", "/v1/generate", raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]
    status, body = request(server, "POST", "/v1/generate", raw=b"", headers={"Content-Length": str(10**9)})
    assert status == 413 and "Content-Length must be" in body["error"]
