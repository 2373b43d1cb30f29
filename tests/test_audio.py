import numpy as np
import pytest
import soundfile as sf

from spiritlm.audio import AudioError, load_audio, write_audio


def test_reference_flac(reference_flac):
    wav = load_audio(reference_flac)
    assert wav.dtype == np.float32 and wav.shape == (146160,)
    assert np.abs(wav).max() <= 1.0


def test_bytes_and_path_agree(reference_flac):
    assert np.array_equal(load_audio(reference_flac.read_bytes()), load_audio(str(reference_flac)))


def test_resample_lengths(tmp_path):
    for sr in (8000, 22050, 44100, 48000):
        t = np.arange(sr) / sr
        path = tmp_path / f"tone{sr}.wav"
        sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), sr)
        assert load_audio(path).shape == (16000,)
    assert load_audio(np.zeros(44100) + 0.1, sample_rate=44100).shape == (16000,)


def test_stereo_mean_and_channel(tmp_path):
    left, right = np.full(1600, 0.5), np.full(1600, -0.25)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    assert np.allclose(load_audio(path), 0.125)
    assert np.allclose(load_audio(path, channel=1), -0.25)
    with pytest.raises(AudioError, match="channel 2 does not exist"):
        load_audio(path, channel=2)
    assert np.allclose(load_audio(np.stack([left, right])), 0.125)  # [C, T] arrays too


def test_int16_and_float64_arrays():
    assert np.allclose(load_audio(np.array([16384, -32768], dtype=np.int16)), [0.5, -1.0])
    out = load_audio(np.array([0.25, -0.5], dtype=np.float64))
    assert out.dtype == np.float32 and np.allclose(out, [0.25, -0.5])


def test_torch_tensor_input():
    import torch

    assert np.allclose(load_audio(torch.full((1, 320), 0.2)), 0.2)


@pytest.mark.parametrize("bad,msg", [(np.zeros(0), "empty"), (np.array([0.0, np.nan]), "NaN or Inf"),
                                     (np.array([np.inf, 0.0]), "NaN or Inf"), (np.zeros((2, 2, 2)), "1-D")])
def test_bad_arrays(bad, msg):
    with pytest.raises(AudioError, match=msg):
        load_audio(bad)


def test_bad_files(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    with pytest.raises(AudioError, match="cannot read audio"):
        load_audio(corrupt)


def test_write_round_trip(tmp_path):
    wav = (0.3 * np.sin(np.linspace(0, 100, 16000))).astype(np.float32)
    path = write_audio(tmp_path / "sub" / "x.wav", wav)
    back = load_audio(path)
    assert np.abs(back - wav).max() < 1e-4
    assert not list(tmp_path.glob("sub/*.part"))
