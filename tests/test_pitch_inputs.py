"""Pitch tokenizer on awkward input: empty, 1 sample, 80 ms, silence, noise, clipping, NaN, long audio,
bad configs. The official code crashes on silent/unvoiced chunks (issue #17); ours returns f0 = vuv = 0."""

from __future__ import annotations

import numpy as np
import pytest

from area_assets import load_helpers
from spiritlm.audio import AudioError, split_chunks
from spiritlm.speech.f0 import FcpeExtractor, YaaptExtractor, interpolate_unvoiced, load_f0_extractor
from spiritlm.speech.pitch import PitchConfig, PitchTokenizer
from spiritlm.speech.pitch import load as load_pitch
from spiritlm.speech.vqvae import VQVAEConfig

helpers = load_helpers("pitch")


@pytest.fixture(scope="module")
def tok() -> PitchTokenizer:
    return helpers.random_tokenizer("norm")


def test_empty_and_nonfinite_are_rejected(tok):
    with pytest.raises(AudioError, match="empty"):
        tok.encode(np.zeros(0, np.float32))
    bad = np.zeros(16000, np.float32)
    bad[5] = np.nan
    with pytest.raises(AudioError, match="NaN or Inf"):
        tok.encode(bad)
    bad[5] = np.inf
    with pytest.raises(AudioError, match="NaN or Inf"):
        tok.extract_f0(bad)


@pytest.mark.parametrize("n", [1, 80, 1199])
def test_shorter_than_one_code_gives_no_code(tok, reference_wav, n):
    contour = tok.extract_f0(reference_wav[20000:20000 + n])
    assert len(contour) == n // 80 + 1
    assert tok.encode_chunk(reference_wav[20000:20000 + n]).shape == (0,)
    assert tok.encode(reference_wav[20000:20000 + n]).shape == (0,)  # also under the 1280-sample chunk minimum


def test_silence_and_noise_are_unvoiced_not_a_crash(tok):
    silent = tok.f0_extractor.extract(np.zeros(16000, np.float32))
    assert len(silent) == 201 and not silent.f0.any() and not silent.vuv.any()
    noise = (0.01 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    assert tok.f0_extractor.extract(noise).voiced_fraction == 0.0
    codes = tok.encode(np.zeros(32000, np.float32))
    assert codes.shape == (401 // 16,)
    assert len(set(codes.tolist())) == 1  # a constant input gives a constant code


def test_clipped_speech_keeps_its_pitch(tok, reference_wav):
    ext = tok.f0_extractor
    assert isinstance(ext, FcpeExtractor)
    part = reference_wav[16000:80000]
    clean, clipped = ext.extract(part), ext.extract(np.clip(part * 20, -1, 1))
    both = (clean.vuv > 0) & (clipped.vuv > 0)
    assert both.mean() > 0.3
    ratio = np.median(clipped.f0[both] / clean.f0[both])
    assert 0.95 < ratio < 1.05


def test_pyaapt_on_a_harmonic_tone_and_on_silence():
    t = np.arange(16000) / 16000
    tone = sum(np.sin(2 * np.pi * 150 * h * t) / h for h in range(1, 6)).astype(np.float32) * 0.3
    contour = YaaptExtractor().extract(tone)
    assert len(contour) == 16000 // 80
    assert abs(float(np.median(contour.f0[contour.vuv > 0])) - 150.0) < 3.0
    silent = YaaptExtractor().extract(np.zeros(8000, np.float32))
    assert len(silent) == 100 and not silent.f0.any() and not silent.vuv.any()
    short = YaaptExtractor().extract(tone[:160])  # pYAAPT itself fails on this: an unvoiced contour instead
    assert len(short) == 2 and not short.vuv.any()


def test_interpolation_rule():
    f0 = np.array([0, 100, 0, 0, 130, 0], dtype=np.float64)
    assert interpolate_unvoiced(f0).tolist() == [100, 100, 110, 120, 130, 130]
    one = np.array([0, 100, 0], dtype=np.float64)
    assert interpolate_unvoiced(one).tolist() == [0, 100, 0]  # fewer than two voiced frames: unchanged


def test_long_input_is_cut_like_the_official_tokenizer():
    wav = np.zeros(2 * 1_600_000 + 1000, np.float32)
    chunks = split_chunks(wav)
    assert [len(c) for c in chunks] == [1_600_000, 1_600_000]  # the 1000-sample tail is under 1280
    assert [len(c) for c in split_chunks(np.zeros(1_600_000 + 2000, np.float32))] == [1_600_000, 2000]


def test_bad_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: fcpe, pyaapt"):
        load_f0_extractor("crepe")
    with pytest.raises(ValueError, match="valid: f0_interp,vuv"):
        PitchConfig(features="f0")
    with pytest.raises(ValueError, match="valid: spirit, tiny"):
        VQVAEConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown ConvStackConfig keys"):
        VQVAEConfig.from_dict({"encoder": {"bogus": 1}, "vq": {}, "decoder": {}})


def test_official_folder_errors(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(FileNotFoundError, match="config.yaml \\+ model.pt"):
        load_pitch(tmp_path / "x")
    folder = helpers.write_official(tmp_path / "bad", "norm")
    import torch

    torch.save({"weights": {}}, folder / "model.pt")
    with pytest.raises(ValueError, match="expected a dict with 'model'"):
        load_pitch(folder)


@pytest.mark.slow
def test_ten_minute_file(tok, reference_wav):
    long = np.tile(reference_wav, 66)[: 600 * 16000]
    codes = tok.encode(long)
    assert codes.shape == (6 * 1250,)


def test_int_pcm_stereo_and_float64(tok, reference_wav):
    with pytest.raises(ValueError, match="integer PCM"):
        tok.encode((reference_wav * 32767).astype(np.int16))
    with pytest.raises(ValueError, match="mixes or picks channels"):
        tok.encode(np.stack([reference_wav, reference_wav]))
    part = reference_wav[:16000]
    assert tok.encode(part.astype(np.float64)).tolist() == tok.encode(part).tolist()
    assert tok.encode(part[None, :]).tolist() == tok.encode(part).tolist()  # [1, T] is squeezed
