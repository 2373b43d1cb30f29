"""The corpus of strange and broken inputs, written into a folder, for every entry point's bad-input tests.

Reusable by any front end (CLI, Python API, official API, HTTP server)::

    from badinputs import write_audio_cases, TOKEN_CASES, SETTING_CASES
    cases = write_audio_cases(tmp_path)          # name -> AudioCase(path, error, expect)
    for name, case in cases.items():
        ...  # send case.path (or case.path.read_bytes() for an upload) through the entry point;
             # case.error: True = must be refused with a message containing case.expect,
             #             False = valid (odd but usable) audio that must be accepted

`TOKEN_CASES` are speech inputs given as unit strings, judged against a **Base** model with the
small 512-id text vocabulary (501 Hu units, no Pi/St); `PROMPT_CASES` are whole prompt strings;
`SETTING_CASES` are generation settings by their API names (the server can send them as JSON fields:
`json.dumps` writes NaN / Infinity, and `1e400` parses to inf). Every bad case carries the words its
error message must contain, so a test checks that the message names the problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000


@dataclass(frozen=True)
class AudioCase:
    path: Path
    error: bool  # True: must be refused; False: odd but valid audio, must be accepted
    expect: str = ""  # words the error message contains (lower case)


def _tone(seconds: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def _write(path: Path, data, sr: int = SR, subtype: str | None = None, fmt: str = "WAV") -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, sr, format=fmt, subtype=subtype)
    return path


def write_audio_cases(folder: str | Path, long_minutes: float = 10.0) -> dict[str, AudioCase]:
    """Write every audio case under `folder`; returns name -> AudioCase."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    tone = _tone(1.0)
    nan = tone.copy()
    nan[100:110] = np.nan
    inf = tone.copy()
    inf[5] = np.inf
    good = _write(d / "good.wav", tone, subtype="PCM_16")
    raw = good.read_bytes()
    cases = {
        "empty": AudioCase(_write(d / "empty.wav", np.zeros(0, np.float32), subtype="PCM_16"), True, "empty"),
        "one_sample": AudioCase(_write(d / "one.wav", np.array([0.1], np.float32), subtype="PCM_16"), True,
                                "too short"),
        "nan": AudioCase(_write(d / "nan.wav", nan, subtype="FLOAT"), True, "nan or inf"),
        "inf": AudioCase(_write(d / "inf.wav", inf, subtype="FLOAT"), True, "nan or inf"),
        "corrupt": AudioCase(d / "corrupt.wav", True, "cannot read audio"),
        "truncated_header": AudioCase(d / "truncated_header.wav", True, "cannot read audio"),
        "text_named_wav": AudioCase(d / "notes.wav", True, "cannot read audio"),
        "folder": AudioCase(d / "a_folder.wav", True, "is a folder"),
        "missing": AudioCase(d / "missing.wav", True, "not found"),
        "long": AudioCase(d / "long.wav", True, "context"),
        "silence": AudioCase(_write(d / "silence.wav", np.zeros(SR, np.float32), subtype="PCM_16"), False),
        "clipped": AudioCase(_write(d / "clipped.wav", np.clip(tone * 8, -1, 1), subtype="PCM_16"), False),
        "loud_float": AudioCase(_write(d / "loud.wav", tone * 4, subtype="FLOAT"), False),
        "stereo": AudioCase(_write(d / "stereo.wav", np.stack([tone, tone[::-1]], 1), subtype="PCM_16"), False),
        "sr8k": AudioCase(_write(d / "sr8k.wav", _tone(1.0, 8000), 8000, "PCM_16"), False),
        "sr44k": AudioCase(_write(d / "sr44k.wav", _tone(1.0, 44100), 44100, "PCM_16"), False),
        "sr48k": AudioCase(_write(d / "sr48k.flac", _tone(1.0, 48000), 48000, "PCM_24", "FLAC"), False),
        "int16": AudioCase(good, False),
        "int32": AudioCase(_write(d / "int32.wav", tone, subtype="PCM_32"), False),
        "float64": AudioCase(_write(d / "float64.wav", tone.astype(np.float64), subtype="DOUBLE"), False),
        "uint8": AudioCase(_write(d / "uint8.wav", tone, subtype="PCM_U8"), False),
        "truncated_data": AudioCase(d / "truncated_data.wav", False),  # libsndfile reads the samples present
        "unicode_spaces": AudioCase(_write(d / "ünï cødé dir" / "my speech ✓.wav", tone, subtype="PCM_16"), False),
    }
    rng = np.random.default_rng(0)
    cases["corrupt"].path.write_bytes(b"RIFF" + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    cases["truncated_header"].path.write_bytes(raw[:30])
    cases["truncated_data"].path.write_bytes(raw[:len(raw) // 2])
    cases["text_named_wav"].path.write_text("these are my notes, not audio\n" * 20, encoding="utf-8")
    cases["folder"].path.mkdir(exist_ok=True)
    # 10 minutes at 8 kHz (9.6 MB): refused from its duration before any of it is decoded or encoded
    _write(cases["long"].path, np.zeros(int(long_minutes * 60 * 8000), np.int16), 8000, "PCM_16")
    return cases


# speech inputs as unit strings: name -> (string, expected words of the error, or None when valid on Base)
TOKEN_CASES: dict[str, tuple[str, str | None]] = {
    "malformed_name": ("[Hu5][Hux]", "malformed speech token"),
    "negative": ("[Hu5][Hu-1]", "malformed speech token"),
    "unclosed": ("[Hu5][Hu6", "malformed speech token"),
    "trailing_text": ("[Hu5][Hu6]hello", "unexpected text"),
    "marker_inside": ("[Hu5][Text]", "malformed speech token"),
    "out_of_range": ("[Hu5][Hu501]", "out of range"),
    "huge_unit": ("[Hu99999999999999999999]", "out of range"),
    "pitch_on_base": ("[Pi3][Hu5]", "no pitch tokens"),
    "style_on_base": ("[St2][Hu5]", "no style tokens"),
    "empty": ("", "empty string"),
    "blank": ("   ", "empty string"),
    "brackets": ("[]", "malformed speech token"),
    "100k_chars": ("[Hu12][Hu7]" * 9091, "context"),  # 100 001 characters, 18 182 tokens
    "long_valid": ("[Hu5][Hu6]" * 40, None),  # 400 characters: longer than a file name may be, never a path
}

# whole prompt strings (generate(prompt=...), CLI --prompt)
PROMPT_CASES: dict[str, tuple[str, str]] = {
    "empty": ("", "empty"),
    "out_of_range": ("[Speech][Hu9999]", "out of range"),
    "malformed": ("[Speech][Hu12", "malformed speech token"),
    "too_long": ("[Speech]" + "[Hu1][Hu2]" * 1100, "context"),
}

# generation settings by API name: name -> (settings, expected words of the error)
SETTING_CASES: dict[str, tuple[dict, str]] = {
    "temperature_zero": ({"temperature": 0.0}, "temperature must be > 0"),
    "temperature_negative": ({"temperature": -1.0}, "temperature must be > 0"),
    "temperature_inf": ({"temperature": math.inf}, "temperature must be a finite number"),
    "temperature_nan": ({"temperature": math.nan}, "temperature must be a finite number"),
    "temperature_huge": ({"temperature": 1e300}, "temperature must be > 0 and <= 100"),
    "temperature_str": ({"temperature": "hot"}, "temperature must be a number"),
    "top_p_over_one": ({"top_p": 1.5}, "top_p must be > 0 and <= 1"),
    "top_p_zero": ({"top_p": 0.0}, "top_p must be > 0 and <= 1"),
    "top_p_nan": ({"top_p": math.nan}, "top_p must be a finite number"),
    "top_p_inf": ({"top_p": math.inf}, "top_p must be a finite number"),
    "top_k_negative": ({"top_k": -5}, "top_k must be an integer >= 0"),
    "top_k_float": ({"top_k": 2.5}, "top_k must be an integer"),
    "num_beams_zero": ({"num_beams": 0}, "num_beams must be an integer 1..64"),
    "num_beams_huge": ({"num_beams": 10**6}, "num_beams must be an integer 1..64"),
    "max_new_tokens_zero": ({"max_new_tokens": 0}, "max_new_tokens must be an integer 1.."),
    "max_new_tokens_negative": ({"max_new_tokens": -3}, "max_new_tokens must be an integer 1.."),
    "max_new_tokens_str": ({"max_new_tokens": "5"}, "max_new_tokens must be an integer, got str"),
    "max_new_tokens_bool": ({"max_new_tokens": True}, "max_new_tokens must be an integer, got bool"),
    "max_new_tokens_huge": ({"max_new_tokens": 10**9}, "max_new_tokens must be an integer 1..1000000"),
    "max_new_tokens_over_context": ({"max_new_tokens": 5000}, "context"),
    "seed_negative": ({"seed": -1}, "seed must be an integer 0..4294967295"),
    "seed_huge": ({"seed": 2**40}, "seed must be an integer 0..4294967295"),
    "seed_float": ({"seed": 1.5}, "seed must be an integer"),
    "do_sample_str": ({"do_sample": "yes"}, "do_sample must be true or false"),
    "greedy_with_temperature": ({"do_sample": False, "temperature": 0.7}, "only when sampling"),
    "repetition_penalty_zero": ({"repetition_penalty": 0.0}, "repetition_penalty must be > 0"),
    "repetition_penalty_nan": ({"repetition_penalty": math.nan}, "repetition_penalty must be a finite"),
    "unknown_setting": ({"temprature": 0.5}, "unknown generation setting 'temprature'"),
}

# the same settings as CLI flags (argparse parses the types): name -> (argv, expected words)
CLI_SETTING_CASES: dict[str, tuple[list[str], str]] = {
    "temperature_zero": (["--temperature", "0"], "temperature must be > 0"),
    "temperature_inf": (["--temperature", "inf"], "temperature must be a finite number"),
    "temperature_nan": (["--temperature", "nan"], "temperature must be a finite number"),
    "temperature_word": (["--temperature", "hot"], "invalid float value"),
    "top_p_over_one": (["--top-p", "1.5"], "top_p must be > 0 and <= 1"),
    "top_p_infinity": (["--top-p", "Infinity"], "top_p must be a finite number"),
    "top_k_negative": (["--top-k", "-1"], "top_k must be an integer >= 0"),
    "max_new_tokens_zero": (["--max-new-tokens", "0"], "max_new_tokens must be an integer 1.."),
    "max_new_tokens_word": (["--max-new-tokens", "five"], "invalid int value"),
    "max_new_tokens_over_context": (["--max-new-tokens", "5000"], "context"),
    "seed_negative": (["--seed", "-1"], "seed must be an integer 0..4294967295"),
    "greedy_with_temperature": (["--greedy", "--temperature", "0.5"], "only when sampling"),
    "repetition_penalty_negative": (["--repetition-penalty", "-2"], "repetition_penalty must be > 0"),
    "device_bogus": (["--device", "bogus"], "unknown device 'bogus'; valid on this machine: cpu"),
    "output_modality": (["--output-modality", "video"], "unknown output modality 'video'"),
}
