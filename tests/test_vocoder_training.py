"""A few training steps on a few seconds of audio lower the mel loss; checkpoints resume; CLI runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from spiritlm.audio import load_audio, write_audio
from spiritlm.training.vocoder import VocoderTrainConfig, VocoderTrainer, load_manifest, run_lengths
from spiritlm.units import SpeechUnits
from spiritlm.vocoder import VocoderConfig, load_vocoder
from spiritlm.vocoder.discriminators import DiscriminatorConfig, Discriminators, LogMel, mel_filterbank

SR, HOP = 16000, 640

pytestmark = pytest.mark.usefixtures("one_thread")


def synthetic_speech(seconds: float, seed: int) -> np.ndarray:
    """Voiced harmonic segments with a moving pitch, separated by noise bursts and short pauses."""
    rs = np.random.RandomState(seed)
    out = []
    while sum(map(len, out)) < seconds * SR:
        n = int(rs.uniform(0.15, 0.4) * SR)
        t = np.arange(n) / SR
        if rs.rand() < 0.7:
            f0 = rs.uniform(100, 220) * (1 + 0.2 * np.sin(2 * np.pi * rs.uniform(1, 3) * t))
            phase = 2 * np.pi * np.cumsum(f0) / SR
            seg = sum(np.sin(k * phase) / k for k in range(1, 8)) * np.hanning(n) * 0.3
        else:
            seg = rs.standard_normal(n) * 0.05 * (rs.rand() < 0.7)
        out.append(seg)
    return np.concatenate(out)[: int(seconds * SR)].astype(np.float32)


def kmeans_units(wav: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Stand-in quantiser: nearest centroid of log-mel frames at hop 640 (one unit per 40 ms)."""
    mel = LogMel(SR, n_fft=1280, hop=HOP, n_mels=20)(torch.as_tensor(wav)[None])[0].T.numpy()  # [T, 20]
    mel = mel[: len(wav) // HOP]
    return np.argmin(((mel[:, None] - centroids[None]) ** 2).sum(-1), axis=1)


def fit_centroids(wavs: list[np.ndarray], k: int, iters: int = 10) -> np.ndarray:
    feats = np.concatenate([LogMel(SR, n_fft=1280, hop=HOP, n_mels=20)(torch.as_tensor(w)[None])[0].T.numpy()
                            for w in wavs])
    c = feats[np.random.RandomState(0).choice(len(feats), k, replace=False)]
    for _ in range(iters):
        assign = np.argmin(((feats[:, None] - c[None]) ** 2).sum(-1), axis=1)
        c = np.stack([feats[assign == j].mean(0) if (assign == j).any() else c[j] for j in range(k)])
    return c


def make_corpus(folder: str | Path, n_utts: int = 2, seconds: float = 2.0, k: int = 16) -> Path:
    folder = Path(folder)
    wavs = [synthetic_speech(seconds, seed) for seed in range(n_utts)]
    centroids = fit_centroids(wavs, k)
    lines = []
    for i, wav in enumerate(wavs):
        path = write_audio(folder / f"utt{i}.wav", wav)
        units = kmeans_units(load_audio(path), centroids)
        lines.append(json.dumps({"audio": path.name, "hubert": " ".join(map(str, units)), "speaker": i % 2}))
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "manifest.jsonl"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_manifest_and_run_lengths(corpus):
    utts = load_manifest(corpus, VocoderConfig.preset("tiny"))
    assert len(utts) == 2 and len(utts[0].units) == 50 and len(utts[0].wav) == 50 * HOP
    assert utts[1].speaker == 1 and utts[0].pitch is None
    u, d = run_lengths(np.array([3, 3, 5, 5, 5, 2]))
    assert u.tolist() == [3, 5, 2] and d.tolist() == [2, 3, 1]
    with pytest.raises(ValueError, match="needs 'audio' and 'hubert'"):
        bad = corpus.parent / "bad.jsonl"
        bad.write_text('{"hubert": "1 2"}\n')
        load_manifest(bad, VocoderConfig.preset("tiny"))


def test_expressive_manifest_is_aligned_to_units(corpus, tmp_path):
    rec = json.loads(corpus.read_text().splitlines()[0])
    rec.update(audio=str(corpus.parent / rec["audio"]), pitch=" ".join(["3"] * 25), style="5 7", style_id=2)
    (tmp_path / "m.jsonl").write_text(json.dumps(rec) + "\n")
    (u,) = load_manifest(tmp_path / "m.jsonl", VocoderConfig.preset("tiny_expressive"))
    assert len(u.pitch) == len(u.style) == len(u.units) == 50
    assert u.style.tolist() == [5] * 25 + [7] * 25 and u.style_id == 2


def test_mel_filterbank_and_discriminator_shapes():
    fb = mel_filterbank(16000, 1024, 80, 0, 8000)
    assert fb.shape == (80, 513) and float(fb.min()) == 0.0
    assert int(fb.argmax(dim=1)[0]) < int(fb.argmax(dim=1)[-1])  # filters ascend in frequency
    disc = Discriminators(DiscriminatorConfig.preset("tiny"))
    scores, fmaps = disc(torch.randn(2, 5120))
    assert len(scores) == 3 + 2 and all(s.shape[0] == 2 for s in scores)
    assert [len(f) for f in fmaps] == [6, 6, 6, 8, 8]


def test_training_lowers_mel_loss_and_resumes(corpus, tmp_path):
    cfg = VocoderTrainConfig.preset("tiny", manifest=str(corpus), out_dir=str(tmp_path / "run"), steps=30,
                                    checkpoint_every=15, sample_every=15, speakers=("a", "b", "c", "d"))
    trainer = VocoderTrainer(cfg)
    before = trainer.mel_error()
    result = trainer.train()
    after = trainer.mel_error()
    assert result.steps == 30 and len(result.history) == 6
    assert after < 0.8 * before, (before, after)
    out = tmp_path / "run"
    assert (out / "samples" / "step_15.wav").exists() and (out / "state.pt").exists()
    assert len((out / "log.jsonl").read_text().splitlines()) == 6
    voc = load_vocoder(out / "vocoder", default_speaker=0)
    assert voc.speakers == ["a", "b", "c", "d"]
    units = SpeechUnits(load_manifest(corpus, voc.config)[0].units)
    wav = voc.synthesize(units, speaker_id="b")
    assert len(wav) == len(units) * HOP and np.isfinite(wav).all()

    # resume: a second trainer on the same folder continues from step 30 to 32
    again = VocoderTrainer(replace(cfg, steps=32))
    assert again.resume() and again.step == 30
    torch.testing.assert_close(again.gen.state_dict(), trainer.gen.state_dict())
    assert again.train().steps == 32
