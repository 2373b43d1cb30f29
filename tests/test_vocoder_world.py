"""The WORLD-rendered regression vocoder (mini v2): analysis / synthesis, training, loading, decoding."""

import json

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pyworld")

from spiritlm.training.world_vocoder import WorldTrainConfig, train_world  # noqa: E402
from spiritlm.vocoder import load_vocoder  # noqa: E402
from spiritlm.vocoder.world import WorldVocoder, analyze, apply_gv, fit_gv, render  # noqa: E402


def harmonic(f0: float, seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))).astype(np.float32)


def test_analysis_synthesis_keeps_the_pitch():
    frames = analyze(harmonic(150.0, 1.0))
    assert frames.shape == (101, 43)
    voiced = frames[:, -1] > 0.5
    assert voiced.mean() > 0.9
    assert abs(np.exp(np.median(frames[voiced, 41])) - 150.0) < 3.0
    again = analyze(render(frames))
    assert abs(np.exp(np.median(again[again[:, -1] > 0.5, 41])) - 150.0) < 3.0


def test_train_load_decode(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for i, f0 in enumerate((120.0, 200.0, 160.0, 140.0)):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, harmonic(f0, 0.64), 16000)
        lines.append(json.dumps({"audio": str(path), "hubert": " ".join(map(str, rng.integers(0, 8, 16))),
                                 "speaker": i % 2}))
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    cfg = WorldTrainConfig.preset("tiny", manifest=str(tmp_path / "train.jsonl"), out_dir=str(tmp_path / "run"),
                                  speakers="a,b")
    res = train_world(cfg)
    assert res["steps"] == 6 and (tmp_path / "run" / "state.pt").is_file()
    voc = load_vocoder(tmp_path / "run" / "vocoder")
    assert isinstance(voc, WorldVocoder) and voc.speakers == ["a", "b"]
    wav = voc.decode("[Hu1][Hu2][Hu3][Hu2]", speaker_id="b", dur_pred=False)
    assert wav.dtype == np.float32 and len(wav) == 4 * 640 and np.isfinite(wav).all()
    np.testing.assert_array_equal(np.concatenate(list(voc.stream("[Hu1][Hu2][Hu3][Hu2]", "b", dur_pred=False))), wav)
    assert train_world(cfg)["steps"] == 6  # a finished run resumes and does nothing more
    # global-variance ratios fitted at the end, for the 40 envelope columns and the aperiodicity
    assert len(voc.world.gv) == 41 and all(1.0 <= g <= 2.5 for g in voc.world.gv) and res["gv"] == voc.world.gv


def test_global_variance_compensation_restores_the_spread():
    rng = np.random.default_rng(0)
    real = [rng.normal(size=(50, 43)) * np.r_[np.full(41, 2.0), 1, 1] + 5 for _ in range(3)]
    smooth = [np.c_[(r[:, :41] - r[:, :41].mean(0)) / 1.6 + r[:, :41].mean(0), r[:, 41:]] for r in real]
    gv = fit_gv(zip(real, smooth), 41)
    assert len(gv) == 41 and all(abs(g - 1.6) < 1e-3 for g in gv)
    back = apply_gv(smooth[0].copy(), gv)
    np.testing.assert_allclose(back[:, :41], real[0][:, :41], atol=1e-2)
    np.testing.assert_array_equal(back[:, 41:], real[0][:, 41:])  # log F0 and voicing untouched
    assert fit_gv([(real[0], real[0] * 3)], 41) == [1.0] * 41  # never smoothed further (ratios >= 1)
    assert apply_gv(smooth[0].copy(), []).tolist() == smooth[0].tolist()
    centre = np.full(43, 5.0)  # about a fixed centre, frame by frame: the same frame gives the same output
    one = apply_gv(smooth[0][:7].copy(), gv, centre)
    np.testing.assert_allclose(one, apply_gv(smooth[0].copy(), gv, centre)[:7])
    np.testing.assert_allclose(one[:, :41], 5.0 + (smooth[0][:7, :41] - 5.0) * 1.6, rtol=1e-3)


def test_gru_head_sees_everything_before_and_round_trips(tmp_path):
    import torch

    from spiritlm.vocoder.world import WorldConfig, WorldHead

    torch.manual_seed(0)
    cond = torch.randn(1, 6, 40)
    far = cond.clone()
    far[:, :, 0] += 1.0  # a change at the first unit reaches far ahead with the GRU
    for rnn, reaches in ((0, False), (4, True)):
        head = WorldHead(6, WorldConfig(channels=8, rnn=rnn), up=4).eval()
        with torch.no_grad():
            diff = (head(cond) - head(far))[0, :, 4 * 12:].abs().max().item()  # 12+ units on: past the convs
        assert (diff > 0) is reaches

    rng = np.random.default_rng(1)
    path = tmp_path / "u.wav"
    sf.write(path, harmonic(150.0, 0.64), 16000)
    (tmp_path / "train.jsonl").write_text(json.dumps(
        {"audio": str(path), "hubert": " ".join(map(str, rng.integers(0, 8, 16))), "speaker": 0}) + "\n")
    cfg = WorldTrainConfig.preset("tiny", manifest=str(tmp_path / "train.jsonl"), out_dir=str(tmp_path / "run"),
                                  speakers="a", rnn=4, loss="l1")
    train_world(cfg)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert "l1" in log[-1] and "mse" not in log[-1]
    voc = load_vocoder(tmp_path / "run" / "vocoder")
    assert voc.world.rnn == 4 and voc.head.rnn is not None
    assert np.isfinite(voc.decode("[Hu1][Hu2][Hu3]", dur_pred=False)).all()


@pytest.mark.parametrize("bad, message", [({"loss": "l2"}, "valid: mse, l1"), ({"rnn": -1}, "rnn must be >= 0")])
def test_bad_training_options_are_named(tmp_path, bad, message):
    cfg = WorldTrainConfig.preset("tiny", manifest=str(tmp_path / "none.jsonl"), out_dir=str(tmp_path / "run"), **bad)
    with pytest.raises(ValueError, match=message):
        train_world(cfg)


@pytest.fixture(scope="module")
def streaming_voc(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("world-stream")
    rng = np.random.default_rng(0)
    lines = []
    for i, f0 in enumerate((120.0, 200.0)):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, harmonic(f0, 0.96), 16000)
        lines.append(json.dumps({"audio": str(path), "hubert": " ".join(map(str, rng.integers(0, 8, 24))),
                                 "speaker": i}))
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    train_world(WorldTrainConfig.preset("tiny", manifest=str(tmp_path / "train.jsonl"), out_dir=str(tmp_path / "run"),
                                        speakers="a,b", rnn=4))
    return load_vocoder(tmp_path / "run" / "vocoder")


@pytest.mark.parametrize("first, chunk", [(3, 4), (None, 7), (1, 1), (40, 50)])
def test_stream_equals_offline_sample_for_sample(streaming_voc, first, chunk):
    """Pieces of growing WORLD prefixes: their concatenation is the offline waveform, bit for bit."""
    code = "".join(f"[Hu{u}]" for u in np.random.default_rng(1).integers(0, 8, 30))
    offline = streaming_voc.decode(code, speaker_id="b", dur_pred=False)
    pieces = list(streaming_voc.stream(code, "b", chunk_units=chunk, first_chunk_units=first, dur_pred=False))
    assert len(pieces) > 1 or (first or chunk) >= 30
    np.testing.assert_array_equal(np.concatenate(pieces), offline)
    assert len(offline) == 30 * 640


def test_stream_refuses_bad_chunks(streaming_voc):
    with pytest.raises(ValueError, match="chunk_units and first_chunk_units must be >= 1, got 0"):
        list(streaming_voc.stream("[Hu1][Hu2]", chunk_units=0))
    with pytest.raises(ValueError, match="unknown stream mode 'fast'"):
        list(streaming_voc.stream("[Hu1][Hu2]", mode="fast"))
