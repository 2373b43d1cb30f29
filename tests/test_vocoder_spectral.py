"""vocoder.spectral: the Griffin-Lim vocoder on a unit HiFi-GAN's conditioning, and its trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from spiritlm.units import SpeechUnits
from spiritlm.vocoder import CodeHiFiGAN, UnitVocoder, VocoderConfig, load_vocoder
from spiritlm.vocoder.spectral import SpectralConfig, SpectralVocoder, griffin_lim, is_spectral_folder, log_magnitude

pytestmark = pytest.mark.usefixtures("one_thread")


def test_griffin_lim_rebuilds_a_magnitude():
    cfg = SpectralConfig(gl_iters=32)
    t = np.arange(16000) / 16000
    wav = torch.from_numpy((0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32))
    target = log_magnitude(wav[None], cfg, 100)[0]
    y = griffin_lim(target, cfg, 16000)
    rebuilt = log_magnitude(y[None], cfg, 100)[0]
    mag, mag2 = target.exp(), rebuilt.exp()
    assert float((mag - mag2).norm() / mag.norm()) < 0.15  # spectral convergence
    assert torch.equal(y, griffin_lim(target, cfg, 16000))  # deterministic


@pytest.fixture
def trained(tmp_path):
    from spiritlm.training.spectral_vocoder import SpectralTrainConfig, train_spectral

    cfg = VocoderConfig.preset("tiny")
    torch.manual_seed(0)
    init = UnitVocoder(CodeHiFiGAN(cfg), speakers=["a", "b", "c", "d"]).save(tmp_path / "hifigan")
    rng = np.random.default_rng(0)
    lines = []
    for i in range(3):
        units = rng.integers(0, cfg.num_embeddings, 30)
        wav = (0.1 * rng.standard_normal(30 * cfg.hop_length)).astype(np.float32)
        sf.write(tmp_path / f"{i}.wav", wav, 16000)
        lines.append(json.dumps({"audio": str(tmp_path / f"{i}.wav"), "hubert": " ".join(map(str, units)),
                                 "speaker": i % 4}))
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    result = train_spectral(SpectralTrainConfig.preset("tiny", manifest=str(tmp_path / "train.jsonl"),
                                                       init=str(init), out_dir=str(tmp_path / "run")))
    return tmp_path, result


def test_train_load_synthesize(trained):
    tmp_path, result = trained
    assert result["steps"] == 6 and np.isfinite(result["final_l1"])
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [2, 4, 6]
    folder = tmp_path / "run" / "vocoder"
    assert is_spectral_folder(folder) and not is_spectral_folder(tmp_path / "hifigan")
    voc = load_vocoder(folder)
    assert isinstance(voc, SpectralVocoder) and voc.speakers == ["a", "b", "c", "d"]
    raw = SpeechUnits(np.array([3, 3, 5, 7, 7, 7, 2, 9]))
    wav = voc.synthesize(raw, speaker_id=1)
    assert wav.dtype == np.float32 and len(wav) == 8 * voc.config.hop_length and np.abs(wav).max() <= 0.99
    np.testing.assert_array_equal(wav, voc.synthesize(raw, speaker_id=1))
    assert not np.array_equal(wav, voc.synthesize(raw, speaker_id=2))
    aligned = voc.decode("[Hu3][Hu5][Hu7][Hu2]")  # deduplicated units: durations from the HiFi-GAN's predictor
    assert len(aligned) == voc.frames(SpeechUnits(np.array([3, 5, 7, 2]), aligned=True)) * voc.config.hop_length
    np.testing.assert_array_equal(np.concatenate(list(voc.stream("[Hu3][Hu5][Hu7][Hu2]"))), aligned)
    again = load_vocoder(voc.save(tmp_path / "copy"))
    np.testing.assert_array_equal(again.synthesize(raw, speaker_id=1), wav)
    with pytest.raises(ValueError, match="spectral vocoder .* saves in format 'ours', not 'official'"):
        voc.save(tmp_path / "x", format="official")


def test_resume_continues_the_run(trained):
    from spiritlm.training.spectral_vocoder import SpectralTrainConfig, train_spectral

    tmp_path, _ = trained
    cfg = SpectralTrainConfig.preset("tiny", manifest=str(tmp_path / "train.jsonl"), init=str(tmp_path / "hifigan"),
                                     out_dir=str(tmp_path / "run"), steps=8)
    assert train_spectral(cfg)["steps"] == 8
    steps = [json.loads(x)["step"] for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]
    with pytest.raises(ValueError, match="--init is required"):
        train_spectral(SpectralTrainConfig.preset("tiny", manifest="m", out_dir=str(tmp_path / "r2")))
