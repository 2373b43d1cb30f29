"""eval.prosody: the prosodic style referee tells styles apart by pitch, rate and voice quality."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spiritlm.eval.prosody import FEATURES, ProsodyReferee, is_prosody_referee, prosody_features
from spiritlm.eval.style import StyleReferee

SR = 16000


def voice(f0: float, rate: float, seconds: float, rng, noise: bool = False):
    """A 'syllable train': a harmonic tone (or noise, for whisper) whose loudness pulses `rate` times a second."""
    t = np.arange(int(seconds * SR)) / SR
    src = rng.standard_normal(len(t)) if noise else sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    env = np.clip(np.sin(np.pi * rate * t), 0, None) ** 2
    wav = (0.3 * src * env / np.abs(src).max()).astype(np.float32)
    n = len(wav) // 80 + 1
    f0s = np.full(n, 0.0 if noise else f0, np.float32)
    vuv = (np.interp(np.arange(n) * 80, np.arange(len(env)), env) > 0.2).astype(np.float32) * (not noise)
    return wav, f0s, vuv


STYLES = {"low_slow": (110, 3.0, False), "high_fast": (220, 7.0, False), "whisper": (0, 4.0, True)}


def dataset(n, seed):
    rng = np.random.default_rng(seed)
    x, y = [], []
    for k, (f0, rate, noise) in enumerate(STYLES.values()):
        for _ in range(n):
            wav, f0s, vuv = voice(f0 * rng.uniform(0.9, 1.1), rate * rng.uniform(0.9, 1.1), rng.uniform(1.5, 3), rng,
                                  noise)
            x.append(prosody_features(wav, f0s, vuv))
            y.append(k)
    return np.stack(x), np.array(y)


def test_features_fit_save_load(tmp_path):
    x, y = dataset(8, 0)
    assert x.shape == (24, len(FEATURES)) and np.isfinite(x).all()
    f = dict(zip(FEATURES, x.T))
    assert f["f0_mean"][y == 1].min() > f["f0_mean"][y == 0].max()  # log2 F0: one octave apart
    assert f["rate"][y == 1].mean() > 1.8 * f["rate"][y == 0].mean()
    assert f["flatness"][y == 2].min() > f["flatness"][y != 2].max()
    ref = ProsodyReferee.fit(x, list(STYLES), y)
    xt, yt = dataset(5, 1)
    assert (ref.logits(xt).argmax(1) == yt).all()
    folder = ref.save(tmp_path / "ref")
    assert is_prosody_referee(folder) and not is_prosody_referee(tmp_path)
    back = ProsodyReferee.load(folder)
    np.testing.assert_array_equal(back.logits(xt), ref.logits(xt))
    assert StyleReferee(str(folder)).labels == list(STYLES)
    assert StyleReferee(str(folder)).classify(np.zeros(100, np.float32)) is None  # too short to judge
    spec = json.loads((folder / "prosody.json").read_text())
    spec["features"] = spec["features"][:-1]
    (folder / "prosody.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="refit it"):
        ProsodyReferee.load(folder)
    with pytest.raises(FileNotFoundError, match="prosody.json missing"):
        ProsodyReferee.load(tmp_path)
