"""Style tokenizer on awkward input: shorter than the wav2vec2 receptive field, silence, clipping,
NaN/Inf, long audio; and the count rule ceil(frames / 50)."""

from __future__ import annotations

import numpy as np
import pytest

from area_assets import load_helpers
from spiritlm.audio import AudioError
from spiritlm.speech.style import StyleTokenizer, receptive_field
from spiritlm.speech.style import load as load_style

helpers = load_helpers("style")


@pytest.fixture(scope="module")
def tok(tmp_path_factory) -> StyleTokenizer:
    return load_style(helpers.write_official(tmp_path_factory.mktemp("style") / "w2v2"))


def test_receptive_field_and_counts(tok):
    assert tok.min_samples == receptive_field((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)) == 400
    assert [tok.num_units(n) for n in (399, 400, 16000, 16399, 16400, 146160)] == [0, 1, 1, 1, 2, 10]


@pytest.mark.parametrize("n, expected", [(1, 0), (399, 0), (400, 1), (1280, 1), (16400, 2)])
def test_short_inputs(tok, n, expected):
    wav = (0.1 * np.sin(np.arange(n) / 7.0)).astype(np.float32)
    assert tok.forward_chunk(wav).units.shape == (expected,)
    assert tok.encode(wav).shape == ((expected,) if n >= 1280 else (0,))  # chunks under 1280 are skipped


def test_silence_and_clipping(tok):
    silent = tok.encode(np.zeros(32000, np.float32))
    assert silent.shape == (2,) and silent.dtype == np.int64
    loud = np.clip(20 * np.sin(np.arange(32000) / 5.0), -1, 1).astype(np.float32)
    assert tok.encode(loud).shape == (2,)


def test_empty_and_nonfinite(tok):
    with pytest.raises(AudioError, match="empty"):
        tok.encode(np.zeros(0, np.float32))
    bad = np.zeros(16000, np.float32)
    bad[3] = np.nan
    with pytest.raises(AudioError, match="NaN or Inf"):
        tok.encode(bad)


def test_long_input_is_chunked_per_100_s(tok):
    wav = (0.1 * np.sin(np.arange(1_600_000 + 16000) / 9.0)).astype(np.float32)
    assert tok.encode(wav).shape == (101,)


@pytest.mark.slow
def test_ten_minute_file(tok):
    wav = (0.1 * np.sin(np.arange(600 * 16000) / 9.0)).astype(np.float32)
    assert tok.encode(wav).shape == (600,)


def test_int_pcm_and_stereo_are_rejected(tok):
    with pytest.raises(ValueError, match="integer PCM"):
        tok.encode(np.zeros(16000, np.int16))
    with pytest.raises(ValueError, match="mixes or picks channels"):
        tok.encode(np.zeros((2, 16000), np.float32))
