"""Unit-quality metrics, k-means and HuBERT training (resumable), and `spiritlm encode`, on a synthetic corpus.

The corpus: "phones" are steady tones (one fundamental + 2 harmonics per phone), 80-240 ms each,
with exact timings in the manifest, so MFCC k-means must find them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from spiritlm.cli import main
from spiritlm.eval.unit_quality import evaluate_manifest, kmeans_encoder, unit_quality
from spiritlm.speech.audio_list import frame_labels, read_manifest_entries
from spiritlm.speech.features import FeatureSpec, frames_100hz, pooled_features
from spiritlm.speech.hubert import load as load_hubert
from spiritlm.speech.random_checkpoints import write_hubert_checkpoints
from spiritlm.training.hubert import HubertTrainConfig, span_mask, train_hubert
from spiritlm.training.kmeans import KmeansTrainConfig, train_kmeans

PHONES = {"a": 150.0, "e": 320.0, "i": 700.0, "o": 1400.0, "u": 2600.0}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    lines = []
    for n in range(8):
        wav, phones, t = [], [], 0.0
        while t < 1.6:
            p = str(rng.choice(list(PHONES)))
            dur = float(rng.integers(5, 16)) * 0.016
            x = np.arange(int(dur * 16000)) / 16000
            f = PHONES[p]
            wav.append(0.3 * np.sin(2 * np.pi * f * x) + 0.1 * np.sin(4 * np.pi * f * x)
                       + 0.05 * np.sin(6 * np.pi * f * x))
            phones.append({"phone": p, "start": round(t, 4), "end": round(t + dur, 4)})
            t += dur
        audio = np.concatenate(wav).astype(np.float32) + rng.normal(0, 0.003, int(round(t * 16000))).astype(
            np.float32)[:sum(len(w) for w in wav)]
        sf.write(root / f"u{n}.wav", audio, 16000)
        lines.append({"id": f"u{n}", "audio": f"u{n}.wav", "phonemes": phones, "split": "train" if n < 6 else "test"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


def test_unit_quality_worked_example_and_bounds():
    q = unit_quality([0, 0, 1, 1], ["a", "a", "b", "a"])
    assert (q.phone_purity, q.cluster_purity) == (0.75, 0.75)
    assert q.pnmi == pytest.approx(0.3837, abs=1e-4)  # I(y;z) = 0.2158 nats, H(y) = 0.5623 nats
    perfect = unit_quality([3, 3, 7, 9, 9], ["x", "x", "y", "z", "z"])
    assert (perfect.phone_purity, perfect.cluster_purity, perfect.pnmi) == (1.0, 1.0, pytest.approx(1.0))
    assert unit_quality([1, 1, 1, 1], ["x", "y", "x", None]).pnmi == 0.0
    with pytest.raises(ValueError, match="3 units but 2 frame labels"):
        unit_quality([1, 2, 3], ["a", "b"])


def test_frame_labels_use_frame_centres():
    phones = [("a", 0.0, 0.05), ("b", 0.05, 0.12)]
    # 25 Hz frames: centres at 0.02, 0.06, 0.10, 0.14 s
    assert frame_labels(phones, 4, 640) == ["a", "b", "b", "sil"]
    assert frame_labels(phones, 4, 640, silence=None)[-1] is None


def test_mfcc_shapes():
    wav = np.random.default_rng(1).normal(0, 0.1, 16000).astype(np.float32)
    assert frames_100hz(wav, FeatureSpec("mfcc")).shape == (98, 39)
    assert frames_100hz(wav, FeatureSpec("logmel", 24)).shape == (98, 24)
    assert pooled_features(wav, FeatureSpec("mfcc"), 640, 24).shape == (24, 39)
    with pytest.raises(ValueError, match="valid: logmel, mfcc"):
        FeatureSpec("plp")


def test_kmeans_is_resumable_and_finds_the_phones(corpus, tmp_path):
    manifest = str(corpus / "manifest.jsonl")
    cfg = KmeansTrainConfig.preset("tiny", manifest=manifest, out_dir=str(tmp_path / "full"), n_clusters=10)
    full = train_kmeans(cfg)
    half = train_kmeans(KmeansTrainConfig.preset("tiny", manifest=manifest, out_dir=str(tmp_path / "r"),
                                                 n_clusters=10, steps=10))
    assert half.steps == 10
    resumed = train_kmeans(KmeansTrainConfig.preset("tiny", manifest=manifest, out_dir=str(tmp_path / "r"),
                                                    n_clusters=10))
    a = torch.load(tmp_path / "full" / "state.pt", weights_only=True)["centers"]
    b = torch.load(tmp_path / "r" / "state.pt", weights_only=True)["centers"]
    assert resumed.steps == full.steps == 20 and torch.equal(a, b)
    assert full.history[-1] < full.history[0]
    encode, hop = kmeans_encoder(tmp_path / "full" / "kmeans")
    q = evaluate_manifest(manifest, encode, hop, split="test")
    assert q.phone_purity > 0.85 and q.pnmi > 0.6, q


def test_hubert_training_resumes_and_loads_by_name(corpus, tmp_path, monkeypatch):
    manifest = str(corpus / "manifest.jsonl")
    train_kmeans(KmeansTrainConfig.preset("tiny", manifest=manifest, out_dir=str(tmp_path / "km")))
    kw = dict(manifest=manifest, kmeans=str(tmp_path / "km" / "kmeans"))
    full = train_hubert(HubertTrainConfig.preset("tiny", out_dir=str(tmp_path / "h1"), **kw))
    assert full.steps == 4 and len(full.history) == 4 and all(np.isfinite(h["loss"]) for h in full.history)
    train_hubert(HubertTrainConfig.preset("tiny", out_dir=str(tmp_path / "h2"), steps=2, **kw))
    train_hubert(HubertTrainConfig.preset("tiny", out_dir=str(tmp_path / "h2"), **kw))
    a = torch.load(tmp_path / "h1" / "state.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "h2" / "state.pt", weights_only=True)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert sorted(p.name for p in (tmp_path / "h1" / "hubert").iterdir()) == ["config.json", "model.safetensors"]
    monkeypatch.setenv("SPIRITLM_CHECKPOINTS_DIR", str(tmp_path / "ck"))
    (tmp_path / "ck" / "speech_tokenizer").mkdir(parents=True)
    (tmp_path / "h1" / "hubert").rename(tmp_path / "ck" / "speech_tokenizer" / "mini_hubert")
    model = load_hubert("mini_hubert", layer=2)
    wav = read_manifest_entries(manifest)[0].path
    feats, _ = model(torch.from_numpy(sf.read(wav, dtype="float32")[0]))
    assert feats.shape[-1] == 32 and len(model.model.encoder.layers) == 2
    # iteration 2: k-means on the trained model's layer-2 features
    km2 = train_kmeans(KmeansTrainConfig.preset("tiny", manifest=manifest, out_dir=str(tmp_path / "km2"),
                                                features="hubert", hubert="mini_hubert", layer=2))
    assert json.loads((km2.out_dir / "kmeans" / "config.json").read_text())["features"] == "hubert"


def test_span_mask():
    g = torch.Generator().manual_seed(0)
    m = span_mask(torch.tensor([20, 7, 0]), 20, 0.5, 3, g)
    assert m[0].sum() >= 3 and not m[1, 7:].any() and not m[2].any()


def test_encode_cli_resumes_and_shards(corpus, tmp_path, monkeypatch, capsys):
    files = write_hubert_checkpoints(tmp_path / "ck", "tiny", seed=0)
    manifest = corpus / "manifest.jsonl"
    out = tmp_path / "units.jsonl"
    args = ["encode", "--manifest", str(manifest), "--out", str(out), "--hubert", str(files.hubert),
            "--quantizer", str(files.quantizer), "--batch-files", "3"]
    assert main(args) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == [f"u{n}" for n in range(8)]
    assert len(lines[0]["hubert"].split()) == load_hubert(files.hubert).num_frames(
        len(sf.read(corpus / "u0.wav")[0]))
    assert main(args) == 0 and "8 were already done" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 8
    (tmp_path / "bad.wav").write_bytes(b"junk")
    s_out = tmp_path / "s.jsonl"
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    rc = main(["encode", str(corpus / "u0.wav"), str(tmp_path / "bad.wav"), str(corpus / "u1.wav"),
               str(corpus / "u2.wav"), "--out", str(s_out), "--format", "string", "--hubert", str(files.hubert),
               "--quantizer", str(files.quantizer)])
    assert rc == 1  # the bad file is reported, the rest is encoded
    ranked = tmp_path / "s.rank1.jsonl"
    recs = [json.loads(x) for x in ranked.read_text().splitlines()]
    assert [Path(r["audio"]).name for r in recs] == ["u2.wav"] and recs[0]["string"].startswith("[Hu")
    errors = [json.loads(x) for x in ranked.with_suffix(".errors.jsonl").read_text().splitlines()]
    assert Path(errors[0]["audio"]).name == "bad.wav"


def test_unit_quality_by_voice_scores_held_out_and_seen_voices_apart(tmp_path, monkeypatch):
    """Held-out voices (the corpus's build.json) and seen ones are scored apart, labelled with the shared
    phone inventory, so flite's "iy" and espeak's "i:" count as one phone."""
    from spiritlm.eval import unit_quality as uq

    lines = []
    for n, (speaker, engine, phone, unit) in enumerate([("espeak-x", "espeak", "i:", 1), ("espeak-x", "espeak", "a", 2),
                                                         ("flite-y", "flite", "iy", 1), ("flite-y", "flite", "aa", 1)]):
        sf.write(tmp_path / f"u{n}.wav", np.full(6400, unit / 10, np.float32), 16000)
        lines.append({"id": f"u{n}", "audio": f"u{n}.wav", "speaker": speaker, "engine": engine, "split": "test",
                      "phonemes": [{"phone": phone, "start": 0.0, "end": 0.4}]})
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tmp_path / "build.json").write_text(json.dumps({"config": {"held_out_speakers": ["espeak-x"]}}))
    assert uq.held_out_speakers(tmp_path / "manifest.jsonl") == ("espeak-x",)
    # the wav's level is the unit: 10 frames of 40 ms per file
    monkeypatch.setattr(uq, "kmeans_encoder", lambda k: (lambda wav: np.full(10, round(float(wav[0]) * 10)), 640))
    scores = uq.run(uq.UnitQualityConfig(manifest=str(tmp_path / "manifest.jsonl"), kmeans=("km",), by_voice=10))
    assert set(scores) == {"km", "km held-out", "km seen"}
    assert scores["km held-out"].phone_purity == 1.0 and scores["km held-out"].pnmi == pytest.approx(1.0)
    assert scores["km seen"].phone_purity == 0.5 and scores["km seen"].pnmi == 0.0  # one unit for two phones
    (tmp_path / "build.json").write_text("{}")
    with pytest.raises(ValueError, match="names no held-out voices"):
        uq.run(uq.UnitQualityConfig(manifest=str(tmp_path / "manifest.jsonl"), kmeans=("km",), by_voice=10))
