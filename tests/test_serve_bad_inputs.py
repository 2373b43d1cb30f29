"""The bad-input suite (`tests/badinputs.py`) sent to the HTTP server: every case gets a 4xx JSON error that
names the problem (or a 200 for odd but valid audio), never a 500 or a hang.

The same corpus goes through the CLI, the Python API and the official API in `test_bad_inputs.py`; here the
audio files travel as base64 uploads (a server never reads paths), unit strings as `units`, whole prompts as
`prompt`, and settings as JSON fields (`json.dumps` writes NaN and Infinity as JavaScript does)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from badinputs import PROMPT_CASES, SETTING_CASES, TOKEN_CASES, write_audio_cases
from conftest import FakeEncoder, FakeVocoder

pytestmark = pytest.mark.usefixtures("one_thread")
TEXT = [{"type": "text", "text": "the cat"}]
UPLOADABLE_ERRORS = ["empty", "one_sample", "nan", "inf", "corrupt", "truncated_header", "text_named_wav", "long"]
AUDIO_OK = ["silence", "clipped", "loud_float", "stereo", "sr8k", "sr44k", "sr48k", "int16", "int32", "float64",
            "uint8", "truncated_data", "unicode_spaces"]
# request fields the server shares with the Python API's settings (checked by the same function)
SHARED = {"temperature": (int, float), "top_p": (int, float), "repetition_penalty": (int, float), "top_k": int,
          "seed": int, "do_sample": bool}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from fastapi.testclient import TestClient

    from spiritlm.generation.pipeline import SpiritLM
    from spiritlm.lm.tiny import write_tiny_checkpoint
    from spiritlm.serve import ServeConfig, create_app

    path = write_tiny_checkpoint(tmp_path_factory.mktemp("lm") / "tiny-base", "base", seed=0)
    lm = SpiritLM.from_pretrained(path, speech_encoder=FakeEncoder(), vocoder=FakeVocoder())
    with TestClient(create_app(lm, "tiny-base", ServeConfig(max_body_bytes=16 << 20))) as c:
        yield c


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    return write_audio_cases(tmp_path_factory.mktemp("audio"))


def post(client, body) -> tuple[int, dict]:
    r = client.post("/v1/generate", content=json.dumps(body).encode())
    assert r.headers["content-type"].startswith("application/json"), r.text[:200]
    return r.status_code, r.json()


def upload(path: Path) -> dict:
    return {"type": "speech", "audio": base64.b64encode(path.read_bytes()).decode()}


@pytest.mark.parametrize("name", UPLOADABLE_ERRORS)
def test_bad_audio_uploads_get_a_400_naming_the_problem(client, audio, name):
    case = audio[name]
    status, body = post(client, {"inputs": [upload(case.path)], "output_modality": "text", "max_new_tokens": 2})
    assert status == 400 and case.expect in body["error"].lower(), (name, status, body)


def test_paths_are_never_read_on_the_server(client, audio):
    for name in ("folder", "missing", "int16"):
        status, body = post(client, {"inputs": [{"type": "speech", "path": str(audio[name].path)}]})
        assert status == 400 and "needs exactly one of 'audio'" in body["error"], (name, body)


@pytest.mark.parametrize("name", AUDIO_OK)
def test_odd_but_valid_audio_uploads_are_answered(client, audio, name):
    status, body = post(client, {"inputs": [upload(audio[name].path)], "output_modality": "text",
                                 "max_new_tokens": 2, "do_sample": False})
    assert status == 200 and body["finish_reason"] in ("length", "stop"), (name, body)


@pytest.mark.parametrize("name", sorted(TOKEN_CASES))
def test_unit_strings(client, name):
    units, expect = TOKEN_CASES[name]
    status, body = post(client, {"inputs": [{"type": "speech", "units": units}], "output_modality": "text",
                                 "max_new_tokens": 2, "do_sample": False})
    if expect is None:
        assert status == 200, body
    elif expect == "empty string":  # refused by the request check before the unit parser sees it
        assert status == 400 and "inputs[0].units must be a non-empty unit string" in body["error"], body
    else:
        assert status == 400 and expect in body["error"], (name, body)


@pytest.mark.parametrize("name", sorted(PROMPT_CASES))
def test_prompt_strings(client, name):
    prompt, expect = PROMPT_CASES[name]
    status, body = post(client, {"prompt": prompt, "max_new_tokens": 2, "do_sample": False})
    if name == "empty":
        assert status == 400 and "'prompt' must be a non-empty token string" in body["error"], body
    else:
        assert status == 400 and expect in body["error"], (name, body)


@pytest.mark.parametrize("name", sorted(SETTING_CASES))
def test_settings_as_json_fields(client, name):
    settings, expect = SETTING_CASES[name]
    status, body = post(client, {"inputs": TEXT, "max_new_tokens": 2, **settings})
    assert status == 400, (name, body)
    err = body["error"]
    assert any(k in err for k in settings), (name, err)  # the message names the field
    # a field the server shares with the Python API, of the right JSON type: the same check, the same words
    same_type = all(k in SHARED and isinstance(v, SHARED[k]) and (isinstance(v, bool) == (SHARED[k] is bool))
                    for k, v in settings.items())
    if same_type:
        assert expect in err, (name, err)
