"""`spiritlm train vqvae`: a tiny F0 VQ-VAE trains on a few seconds of synthetic voiced audio, the
held-out reconstruction error falls, the run resumes, and the result loads by folder through
`speech.pitch.load`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spiritlm.audio import load_audio, write_audio
from spiritlm.cli import main
from spiritlm.speech.pitch import load as load_pitch
from spiritlm.training.vqvae import (
    VQVAETrainConfig,
    evaluate_pitch,
    read_audio_manifest,
    speaker_means,
    train_vqvae,
)


def synthetic_corpus(folder: Path, n_files: int = 4, seconds: float = 2.0) -> Path:
    """Harmonic tones with gliding pitch (110 / 220 Hz speakers), silent gaps, labelled low/high."""
    sr, rng, lines = 16000, np.random.default_rng(0), []
    for i in range(n_files):
        t = np.arange(int(seconds * sr)) / sr
        f0 = [110, 220][i % 2] * (1 + 0.3 * np.sin(2 * np.pi * (0.5 + 0.3 * i) * t))
        phase = 2 * np.pi * np.cumsum(f0) / sr
        x = sum(np.sin(h * phase) / h for h in range(1, 6)) * (np.sin(2 * np.pi * 1.5 * t) > -0.5)
        write_audio(folder / f"u{i}.wav", (0.3 * x + 0.003 * rng.standard_normal(len(t))).astype(np.float32))
        lines.append({"audio": f"u{i}.wav", "speaker": f"s{i % 2}", "style": ["low", "high"][i % 2]})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return folder / "manifest.jsonl"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return synthetic_corpus(tmp_path_factory.mktemp("corpus"))


def test_manifest_reader(tmp_path, manifest):
    rows = read_audio_manifest(manifest, label_key="style")
    assert [Path(r["audio"]).name for r in rows] == ["u0.wav", "u1.wav", "u2.wav", "u3.wav"]
    assert rows[1]["speaker"] == "s1" and rows[1]["style"] == "high"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"path": "a.wav"}\n{"text": "x"}\n')
    with pytest.raises(ValueError, match="no 'audio' path"):
        read_audio_manifest(bad)
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"audio": "a.wav"}\n{"audio": "b.w')
    assert len(read_audio_manifest(torn)) == 1


def test_train_resume_and_load(tmp_path, manifest, monkeypatch):
    cfg = VQVAETrainConfig.preset("tiny", manifest=str(manifest), out_dir=str(tmp_path / "run"), steps=20,
                                  speaker_norm=True)
    first = train_vqvae(cfg)
    assert first.steps == 20 and (tmp_path / "run" / "state.pt").is_file()
    result = train_vqvae(VQVAETrainConfig.preset("tiny", manifest=str(manifest), out_dir=str(tmp_path / "run"),
                                                 steps=50, speaker_norm=True))
    assert result.steps == 50 and [h["step"] for h in result.history] == list(range(5, 51, 5))
    losses = [h["eval_recon"] for h in result.history]
    assert np.mean(losses[-3:]) < 0.5 * losses[0], losses
    monkeypatch.setenv("SPIRITLM_CHECKPOINTS_DIR", str(tmp_path))
    (tmp_path / "speech_tokenizer").mkdir()
    (tmp_path / "run" / "pitch").rename(tmp_path / "speech_tokenizer" / "my_pitch")
    tok = load_pitch("my_pitch")  # by name, under $SPIRITLM_CHECKPOINTS_DIR/speech_tokenizer/
    assert set(tok.config.speaker_stats) == {"s0", "s1"}
    assert 90 < tok.config.speaker_stats["s0"] < 130 and 190 < tok.config.speaker_stats["s1"] < 250
    m = evaluate_pitch(tok, [tok.extract_f0(load_audio(manifest.parent / f"u{i}.wav")) for i in range(2)],
                       ["s0", "s1"])
    assert 0.0 < m.vuv_accuracy <= 1.0 and 1 <= m.codes_used <= 16 and 1.0 <= m.code_perplexity <= m.codes_used
    assert 0 <= m.f0_error_cents < 1200
    codes = tok.encode(load_audio(manifest.parent / "u0.wav"))
    assert codes.shape == (tok.num_codes(32000),) == (25,)
    assert codes.max() < 16


def test_speaker_means_skip_unvoiced():
    from spiritlm.speech.f0 import F0Contour

    c = [F0Contour(np.array([0, 100, 120], np.float32), np.array([0, 1, 1], np.float32)),
         F0Contour(np.zeros(3, np.float32), np.zeros(3, np.float32))]
    assert speaker_means([{"speaker": "a"}, {"speaker": "b"}], c) == {"a": 110.0}


def test_cli(tmp_path, manifest, capsys):
    rc = main(["train", "vqvae", str(manifest), "--out", str(tmp_path / "cli"), "--preset", "tiny", "--steps", "5",
               "--valid", str(manifest)])
    out = capsys.readouterr().out
    assert rc == 0 and "trained F0 VQ-VAE to step 5; fixed-batch recon" in out
    assert "held-out (4 files): median F0 error" in out
    assert (tmp_path / "cli" / "pitch" / "model.safetensors").is_file()
    assert main(["train", "vqvae", str(manifest), "--out", str(tmp_path / "x"), "--preset", "huge"]) == 2


def test_raw_f0_features_train_on_uninterpolated_contours(tmp_path, manifest):
    cfg = VQVAETrainConfig.preset("tiny", manifest=str(manifest), out_dir=str(tmp_path / "raw"), steps=2,
                                  features="f0,vuv")
    train_vqvae(cfg)
    tok = load_pitch(tmp_path / "raw" / "pitch")
    assert tok.config.features == "f0,vuv" and not tok.config.interpolate
    cache = np.load(tmp_path / "raw" / "f0.npz")
    f0, vuv = (cache[k] for k in sorted(cache.files) if "u0.wav" in k)
    assert (f0[vuv == 0] == 0).all() and (f0[vuv > 0] > 0).all()  # unvoiced frames stay 0
