"""Real speech through the whole Expressive tokenizer (tiny random weights in every official format).

The official counts for the 9.135 s example file are 228 HuBERT / 114 pitch / 10 style units; the
LibriVox utterances of Debian's pocketsphinx-testdata must follow the same length formulas:
hubert = conv-stack frames (25 Hz), pitch = (n // 80 + 1) // 16 (12.5 Hz), style = ceil(w2v2 frames / 50).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spiritlm.speech.random_checkpoints import write_hubert_checkpoints
from spiritlm.speech_tokenizer import spiritlm_expressive

TESTS = Path(__file__).resolve().parent
REF_AUDIO = TESTS.parents[1] / "shared" / "reference" / "audio" / "7143-88743-0029.flac"
LIBRIVOX = sorted(Path("/usr/share/pocketsphinx/test/data/librivox").glob("*.wav"))


def _helpers(area: str):
    spec = importlib.util.spec_from_file_location(f"{area}_helpers_for_speech", TESTS / "assets" / area / "helpers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def expressive(tmp_path_factory):
    root = tmp_path_factory.mktemp("official_root")
    write_hubert_checkpoints(root, "tiny", seed=0)
    _helpers("pitch").write_official(root / "speech_tokenizer" / "vqvae_f0_quantizer")
    _helpers("style").write_official(root / "speech_tokenizer" / "style_encoder_w2v2")
    return spiritlm_expressive(root=root)


def expected_counts(n: int) -> tuple[int, int, int]:
    hub = n
    for k, s in [(10, 5)] + [(3, 2)] * 4 + [(2, 2)] * 3:
        hub = (hub - k) // s + 1
    w2v = n
    for k, s in [(10, 5)] + [(3, 2)] * 4 + [(2, 2)] * 2:
        w2v = (w2v - k) // s + 1
    return hub, (n // 80 + 1) // 16, math.ceil(w2v / 50)


def test_reference_file_gives_the_official_counts(expressive):
    units = expressive.encode_units(str(REF_AUDIO))
    counts = tuple(len(units[k].split()) for k in ("hubert", "pitch", "style"))
    assert counts == (228, 114, 10) == expected_counts(146_160)
    s = expressive.encode_string(str(REF_AUDIO))
    assert s.count("[St") == 10 and s.startswith("[St")


@pytest.mark.slow
@pytest.mark.skipif(not LIBRIVOX, reason="Debian package pocketsphinx-testdata is not installed (make setup)")
def test_librivox_lengths_follow_the_formulas(expressive):
    assert len(LIBRIVOX) == 5
    for path in LIBRIVOX:
        n = sf.info(path).frames
        units = expressive.tokenizer.encode_units(path)
        assert (len(units.hubert), len(units.pitch), len(units.style)) == expected_counts(n), path.name
        assert abs(len(units.hubert) - n / 640) <= 1.5  # ~25 Hz
        assert np.all(units.hubert < 21) and np.all(units.pitch < 64)
