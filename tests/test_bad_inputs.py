"""Bad input never gets a traceback, a hang or a crash: the corpus of `badinputs.py` through every entry point.

CLI (in-process `main`, and a few real subprocesses): exit code 2, one line `spiritlm <cmd>: error: ...`
naming the problem, no traceback, no output file left behind. Python API (`SpiritLM`) and official API
(`Spiritlm`): a typed `spiritlm.errors` exception whose message names the problem.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from badinputs import CLI_SETTING_CASES, PROMPT_CASES, SETTING_CASES, TOKEN_CASES, write_audio_cases
from conftest import FakeEncoder, FakeVocoder
from spiritlm.cli import main
from spiritlm.errors import (
    AudioError,
    CheckpointError,
    InvalidInput,
    InvalidSetting,
    InvalidSpeechInput,
    OutputPathError,
    PromptTooLong,
    SpiritLMError,
)

pytestmark = pytest.mark.usefixtures("one_thread")
AUDIO_ERRORS = [n for n in ("empty", "one_sample", "nan", "inf", "corrupt", "truncated_header", "text_named_wav",
                            "folder", "missing", "long")]
AUDIO_OK = ["silence", "clipped", "loud_float", "stereo", "sr8k", "sr44k", "sr48k", "int16", "int32", "float64",
            "uint8", "truncated_data", "unicode_spaces"]
BAD_TOKENS = [k for k, (_, expect) in TOKEN_CASES.items() if expect is not None]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny Base LM (512 text ids, 501 Hu units, context 2048) with no speech parts beside it."""
    from spiritlm.lm.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("bad") / "tiny-base", "base", seed=5)


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    return write_audio_cases(tmp_path_factory.mktemp("audio"))


@pytest.fixture(scope="module")
def lm(model_dir):
    from spiritlm.generation.pipeline import SpiritLM

    return SpiritLM.from_pretrained(model_dir, speech_encoder=FakeEncoder(), vocoder=FakeVocoder())


@pytest.fixture(scope="module")
def official(model_dir):
    from spiritlm.model.spiritlm_model import Spiritlm

    return Spiritlm(str(model_dir))


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """main() in-process -> (exit code, stderr); argparse's SystemExit counts as an exit code."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, command: str, expect: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith(f"spiritlm {command}: error: ")]
    assert len(lines) == 1, err
    assert expect.lower() in lines[0].lower(), lines[0]


def gen_argv(model_dir, *extra: str, out: Path | None = None) -> list[str]:
    argv = ["generate", "--model", str(model_dir), *extra]
    return argv + (["--out", str(out)] if out is not None else [])


# ---------------------------------------------------------------------------------------------- audio


@pytest.mark.parametrize("name", AUDIO_ERRORS)
def test_bad_audio_api(lm, audio, name):
    case = audio[name]
    with pytest.raises(InvalidSpeechInput if name != "long" else PromptTooLong) as e:
        lm.generate([("speech", case.path)], output_modality="text", max_new_tokens=2)
    assert case.expect in str(e.value).lower()
    if name not in ("long", "one_sample"):
        assert isinstance(e.value, AudioError)


@pytest.mark.parametrize("name", AUDIO_OK)
def test_odd_but_valid_audio_api(lm, audio, name):
    r = lm.generate([("speech", audio[name].path)], output_modality="text", max_new_tokens=2, do_sample=False)
    assert r.prompt.startswith("[Speech][Hu") and r.prompt.endswith("[Text]")
    assert len(r.new_ids) <= 2


@pytest.mark.parametrize("name", AUDIO_ERRORS)
def test_bad_audio_cli(model_dir, audio, name, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = run_cli(gen_argv(model_dir, "--speech", str(audio[name].path), "--output-modality", "speech",
                                 out=out), capsys)
    assert_one_line_error(code, err, "generate", audio[name].expect)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("name", ["corrupt", "missing", "long"])
def test_bad_audio_official_api(official, audio, name):
    from spiritlm.model.spiritlm_model import ContentType, GenerationInput, OutputModality

    with pytest.raises(InvalidInput) as e:
        official.generate(output_modality=OutputModality.TEXT, max_new_tokens=2,
                          interleaved_inputs=[GenerationInput(audio[name].path, ContentType.SPEECH)])
    assert audio[name].expect in str(e.value).lower()


def test_ten_minutes_fails_before_encoding(model_dir, audio):
    """The duration alone refuses it: the encoder is never called."""
    from spiritlm.generation.pipeline import SpiritLM

    class Exploding(FakeEncoder):
        def encode_units(self, wav):
            raise AssertionError("the long recording reached the encoder")

    model = SpiritLM.from_pretrained(model_dir, speech_encoder=Exploding())
    with pytest.raises(PromptTooLong, match=r"600\.0 s long: 15000 frames at 25 Hz.*context of 2048 tokens"):
        model.generate([("speech", audio["long"].path)], output_modality="text")
    with pytest.raises(PromptTooLong, match=r"at most about 164 s"):
        model.generate([("speech", np.zeros(16000 * 600, np.float32))], output_modality="text")


# --------------------------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_bad_unit_strings_api(lm, name):
    string, expect = TOKEN_CASES[name]
    with pytest.raises(InvalidSpeechInput if expect != "context" else PromptTooLong) as e:
        lm.generate([("speech", string)], output_modality="text", max_new_tokens=2)
    assert expect in str(e.value)


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_bad_unit_strings_cli(model_dir, name, capsys, tmp_path):
    string, expect = TOKEN_CASES[name]
    code, err = run_cli(gen_argv(model_dir, "--speech", string, out=tmp_path / "o"), capsys)
    assert_one_line_error(code, err, "generate", expect)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["malformed_name", "out_of_range", "pitch_on_base", "100k_chars"])
def test_bad_unit_strings_official_api(official, name):
    string, expect = TOKEN_CASES[name]
    with pytest.raises(InvalidInput, match=expect):
        official.generate(interleaved_inputs=[("speech", string)], output_modality="text", max_new_tokens=2)


def test_long_unit_string_is_never_a_path(lm, official, model_dir, capsys, tmp_path):
    """400 characters of units (longer than a file name may be) are units, on every entry point."""
    string = TOKEN_CASES["long_valid"][0]
    r = lm.generate([("speech", string)], output_modality="text", max_new_tokens=2, do_sample=False)
    assert r.prompt == "[Speech]" + string + "[Text]"
    outs = official.generate(interleaved_inputs=[("speech", string)], output_modality="text", max_new_tokens=2,
                             return_prompt=True)
    assert outs[1] == "[Speech]" + string + "[Text]"
    code, err = run_cli(gen_argv(model_dir, "--speech", string, "--output-modality", "text", "--max-new-tokens",
                                 "2", "--greedy", out=tmp_path / "o"), capsys)
    assert code == 0, err


@pytest.mark.parametrize("name", list(PROMPT_CASES))
def test_bad_prompt_strings(lm, model_dir, name, capsys):
    string, expect = PROMPT_CASES[name]
    with pytest.raises(InvalidInput, match=expect):
        lm.generate(prompt=string, max_new_tokens=2)
    code, err = run_cli(gen_argv(model_dir, "--prompt", string, "--units-only"), capsys)
    assert_one_line_error(code, err, "generate", "give at least one" if not string else expect)


# ------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize("name", list(SETTING_CASES))
def test_bad_settings_api_and_official(lm, official, name):
    settings, expect = SETTING_CASES[name]
    error = PromptTooLong if expect == "context" else InvalidSetting
    with pytest.raises(error) as e:
        lm.generate([("text", "hello")], output_modality="text", **settings)
    assert expect in str(e.value)
    with pytest.raises(error, match=expect.replace("(", r"\(").replace(".", r"\.")):
        official.generate(interleaved_inputs=[("text", "hello")], output_modality="text", **settings)


@pytest.mark.parametrize("name", list(CLI_SETTING_CASES))
def test_bad_settings_cli(model_dir, name, capsys, tmp_path):
    argv, expect = CLI_SETTING_CASES[name]
    code, err = run_cli(gen_argv(model_dir, "--text", "hello", *argv, out=tmp_path / "o"), capsys)
    assert_one_line_error(code, err, "generate", expect)
    assert not (tmp_path / "o").exists()


def test_generation_config_objects_are_checked(official):
    from transformers import GenerationConfig

    for cfg, expect in ((GenerationConfig(top_p=1.5, do_sample=True), "top_p must be > 0 and <= 1, got 1.5"),
                        (GenerationConfig(temperature=float("inf"), do_sample=True), "temperature must be a finite")):
        with pytest.raises(InvalidSetting, match=expect):
            official.generate(interleaved_inputs=[("text", "hi")], output_modality="text", generation_config=cfg)
    with pytest.raises(InvalidInput, match="generation_config must be a transformers.GenerationConfig, got dict"):
        official.generate(interleaved_inputs=[("text", "hi")], generation_config={"temperature": 0.5})


def test_sampling_settings_switch_sampling_on(lm):
    """temperature without do_sample samples (it is not silently greedy): two seeds, two answers."""
    a = lm.generate([("text", "the")], output_modality="text", max_new_tokens=12, temperature=5.0, seed=1)
    b = lm.generate([("text", "the")], output_modality="text", max_new_tokens=12, temperature=5.0, seed=2)
    g = lm.generate([("text", "the")], output_modality="text", max_new_tokens=12, do_sample=False)
    assert a.new_ids != b.new_ids
    assert lm.generate([("text", "the")], output_modality="text", max_new_tokens=12, temperature=5.0,
                       seed=1).new_ids == a.new_ids
    assert g.new_ids == lm.generate([("text", "the")], output_modality="text", max_new_tokens=12,
                                    do_sample=False).new_ids


# ------------------------------------------------------------------------------------ API argument types


@pytest.mark.parametrize("call, expect", [
    (lambda m: m.generate_batch(5), "generate_batch takes a list of prompts"),
    (lambda m: m.generate_batch("[Text]hi"), "generate_batch takes a list of prompts"),
    (lambda m: m.generate_batch([]), "at least one prompt"),
    (lambda m: m.generate_batch([5]), "prompt 0 is a int"),
    (lambda m: m.generate([("speech", 123)]), "a speech input must be a path"),
    (lambda m: m.generate([("speech", 0.5)]), "got float 0.5"),
    (lambda m: m.generate([("speech", [0.1, 0.2])]), "got list"),
    (lambda m: m.generate([("speech", None)]), "got NoneType"),
    (lambda m: m.generate([("speech", np.float32(1.0))]), "got float32"),
    (lambda m: m.generate([("speech", torch.tensor(1.0))]), "got Tensor"),
    (lambda m: m.generate([("image", "x.png")]), "unknown content type 'image'; valid: text, speech"),
    (lambda m: m.generate([("text", 5)]), "TEXT content must be a string, got int"),
    (lambda m: m.generate([("text", "hi")], output_modality="video"), "valid: text, speech, arbitrary"),
    (lambda m: m.generate([("text", "hi")], speaker_id=-1), "speaker_id must be a non-negative integer"),
    (lambda m: m.generate(prompt=5), "prompt 0 is a int"),
    (lambda m: m.generate(), "give inputs"),
    (lambda m: m.generate([]), "the prompt is empty"),
    (lambda m: m.generate_batch([{"text": "hi"}]), "prompt 0 is a dict"),
])
def test_bad_api_arguments(lm, call, expect):
    with pytest.raises(InvalidInput) as e:
        call(lm)
    assert expect in str(e.value)


def test_empty_waveform_and_units(lm):
    from spiritlm.units import SpeechUnits

    with pytest.raises(AudioError, match="empty"):
        lm.generate([("speech", np.zeros(0, np.float32))], output_modality="text")
    with pytest.raises(InvalidSpeechInput, match="holds no units"):
        lm.generate([("speech", SpeechUnits([]))], output_modality="text")
    with pytest.raises(AudioError, match="audio must be 1-D"):
        lm.generate([("speech", np.zeros((2, 3, 4000), np.float32))], output_modality="text")


# ------------------------------------------------------------------------------- checkpoints and paths


@pytest.fixture(scope="module")
def pickled(tmp_path_factory, model_dir):
    """Copies of checkpoint files holding a pickled argparse.Namespace, and a corrupt quantizer."""
    import shutil

    d = tmp_path_factory.mktemp("pickled")
    lm_copy = Path(shutil.copytree(model_dir, d / "tiny-base"))
    weights = lm_copy / "pytorch_model.bin"
    torch.save({"state": torch.load(weights, weights_only=True), "args": argparse.Namespace(lr=1)}, weights)
    torch.save({"model_cfg": {"vocab_size": 4}, "args": argparse.Namespace(k=4)}, d / "quantizer_pickled.pt")
    (d / "quantizer_corrupt.pt").write_bytes(b"\x80\x02" + bytes(range(256)) * 4)
    (d / "quantizer_empty.pt").write_bytes(b"")
    return d


def test_refused_pickles_say_which_file_and_why(pickled, capsys):
    from spiritlm.generation.pipeline import SpiritLM
    from spiritlm.speech.quantizer import load as load_quantizer

    refused = "is refused: it holds a pickled Python object (argparse.Namespace), not plain tensors"
    with pytest.raises(CheckpointError, match=r"pytorch_model.bin \(the LM weights\) " + refused.replace("(", r"\(")
                       .replace(")", r"\)")):
        SpiritLM.from_pretrained(pickled / "tiny-base")
    with pytest.raises(CheckpointError, match=r"quantizer_pickled.pt \(the quantizer\) is refused"):
        load_quantizer(pickled / "quantizer_pickled.pt")
    code, err = run_cli(["generate", "--model", str(pickled / "tiny-base"), "--text", "hi"], capsys)
    assert_one_line_error(code, err, "generate", refused)


@pytest.mark.parametrize("name", ["quantizer_corrupt.pt", "quantizer_empty.pt"])
def test_corrupt_quantizer(pickled, name, tmp_path, capsys, audio):
    out = tmp_path / "u.jsonl"
    code, err = run_cli(["encode", str(audio["int16"].path), "--out", str(out), "--hubert", "any-hubert",
                         "--quantizer", str(pickled / name)], capsys)
    assert_one_line_error(code, err, "encode", f"{name} (the quantizer) is not a readable PyTorch file: corrupt")
    assert not out.exists()


@pytest.mark.parametrize("argv, expect", [
    (["--batch-files", "0"], "argument --batch-files: must be an integer >= 1, got 0"),
    (["--batch-files", "-1"], "argument --batch-files: must be an integer >= 1, got -1"),
    (["--device", "bogus"], "unknown device 'bogus'"),
])
def test_encode_arguments(argv, expect, tmp_path, capsys, audio):
    code, err = run_cli(["encode", str(audio["int16"].path), "--out", str(tmp_path / "u.jsonl"), *argv], capsys)
    assert_one_line_error(code, err, "encode", expect)
    assert not (tmp_path / "u.jsonl").exists()


def test_output_paths_checked_before_work(model_dir, tmp_path, capsys, audio):
    folder = tmp_path / "folder"
    folder.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    code, err = run_cli(["encode", str(audio["int16"].path), "--out", str(folder)], capsys)
    assert_one_line_error(code, err, "encode", f"--out {folder} is a folder")
    for target, expect in ((folder, "is a folder; give a file name"), (tmp_path / "x.mp9", "unknown format 'mp9'"),
                           (afile / "x.wav", "is a file, so the folder cannot be created")):
        code, err = run_cli(["decode", "--vocoder", str(tmp_path / "no-vocoder"), "--tokens", "[Hu1]", "-o",
                             str(target)], capsys)
        assert_one_line_error(code, err, "decode", expect)
    code, err = run_cli(["decode", "--vocoder", "v", "--tokens", "", "-o", str(tmp_path / "a.wav")], capsys)
    assert_one_line_error(code, err, "decode", "--tokens is empty")
    code, err = run_cli(["decode", "--vocoder", "v", "--tokens", "@" + str(tmp_path / "none.txt"), "-o",
                         str(tmp_path / "a.wav")], capsys)
    assert_one_line_error(code, err, "decode", f"No such file or directory: {tmp_path / 'none.txt'}")
    # generate: --out an existing file; outputs of an earlier run kept unless --overwrite
    code, err = run_cli(gen_argv(model_dir, "--text", "hi", out=afile), capsys)
    assert_one_line_error(code, err, "generate", f"--out {afile} is a file")
    (folder / "output_0.wav").write_bytes(b"earlier run")
    code, err = run_cli(gen_argv(model_dir, "--text", "hi", out=folder), capsys)
    assert_one_line_error(code, err, "generate", "already holds output_0.wav from an earlier run; give --overwrite")
    assert (folder / "output_0.wav").read_bytes() == b"earlier run" and afile.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder"]


def test_write_audio_leaves_no_partial_file(tmp_path):
    from spiritlm.audio import write_audio

    with pytest.raises(AudioError, match="NaN or Inf"):
        write_audio(tmp_path / "a.wav", np.array([0.0, np.nan], np.float32))
    with pytest.raises(OutputPathError, match="it is a folder"):
        write_audio(tmp_path, np.zeros(10, np.float32))
    assert list(tmp_path.iterdir()) == []


def test_typed_errors_are_value_errors():
    """Code written for the official release catches ValueError; every input error still is one."""
    for cls in (InvalidInput, InvalidSetting, InvalidSpeechInput, AudioError, PromptTooLong, OutputPathError,
                CheckpointError):
        assert issubclass(cls, ValueError) and issubclass(cls, SpiritLMError)


# ---------------------------------------------------------------------------------- real subprocesses


@pytest.mark.parametrize("argv, expect", [
    (["generate", "--model", "{model}", "--text", "hi", "--temperature", "inf"], "temperature must be a finite"),
    (["encode", "{audio}", "--out", "{tmp}/u.jsonl", "--batch-files", "-1"], "must be an integer >= 1, got -1"),
])
def test_subprocess_exit_code_and_one_line(model_dir, audio, tmp_path, argv, expect):
    argv = [a.format(model=model_dir, audio=audio["int16"].path, tmp=tmp_path) for a in argv]
    src = Path(__file__).resolve().parents[1] / "src"
    proc = subprocess.run([sys.executable, "-m", "spiritlm.cli", *argv], capture_output=True, text=True,
                          timeout=120, env=os.environ | {"PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"spiritlm {argv[0]}: error: ")
    assert expect in proc.stderr.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, expect", [("x" * 300, "no checkpoint folder for 'xxx"), ("", "the model name is empty"),
                                          ("[Hu5]" * 60, "no checkpoint folder for '[Hu5]")])
def test_bad_model_names(name, expect, capsys):
    from spiritlm.generation.pipeline import SpiritLM

    with pytest.raises(FileNotFoundError, match=expect.replace("[", r"\[")):
        SpiritLM.from_pretrained(name)
    code, err = run_cli(["generate", "--model", name, "--text", "hi", "--units-only"], capsys)
    assert_one_line_error(code, err, "generate", expect)
    assert len(err.strip().splitlines()[-1]) <= 640


def test_default_max_new_tokens_shrinks_to_fit_the_context(lm):
    """A default length is shortened to the room left; a length the caller asked for is refused instead."""
    prompt = "[Speech]" + "[Hu1][Hu2]" * 1015  # 2032 ids with <s> and [Speech]: 16 positions left of 2048
    r = lm.generate(prompt=prompt, output_modality="speech", synthesize=False, do_sample=False)
    assert len(r.prompt_ids) == 2032 and len(r.new_ids) == 16 and r.finish_reason == "length"
    with pytest.raises(PromptTooLong, match="2032 tokens and max_new_tokens is 17: 2049 > the model's context of "
                                            "2048 tokens; lower max_new_tokens to at most 16"):
        lm.generate(prompt=prompt, max_new_tokens=17)
