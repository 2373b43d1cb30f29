"""The prosodic [St] tokenizer (mini v2): measured statistics, token counts, training on labelled audio, files."""

import json

import numpy as np
import pytest
import soundfile as sf

from spiritlm.speech.prosody_style import (
    N_STATS,
    STAT_NAMES,
    is_prosody_style,
    load_prosody_style,
    n_tokens,
    prosody_frames,
    token_stats,
    window_stats,
)

SR = 16000
pytestmark = pytest.mark.usefixtures("one_thread")


def voiced(seconds: float, f0: float, amp: float = 0.3, vibrato: float = 0.0) -> np.ndarray:
    """A harmonic tone (five partials) at f0 Hz, f0 modulated by +-vibrato semitones at 2 Hz."""
    t = np.arange(int(seconds * SR)) / SR
    inst = f0 * 2 ** (vibrato * np.sin(2 * np.pi * 2 * t) / 12)
    phase = 2 * np.pi * np.cumsum(inst) / SR
    return (amp * sum(np.sin(k * phase) / k for k in range(1, 6)) / 2).astype(np.float32)


def test_statistics_of_a_steady_tone():
    frames = prosody_frames(voiced(2.0, 200.0))
    assert frames.shape == (2 * SR // 160 + 1, 4)
    s = dict(zip(STAT_NAMES, window_stats(frames[5:-5])))
    assert len(STAT_NAMES) == N_STATS
    assert s["pitch_mean"] == pytest.approx(12.0, abs=0.1)  # 200 Hz is 12 semitones above 100 Hz
    assert s["pitch_std"] < 0.1 and s["voiced_fraction"] == 1.0 and s["speech_fraction"] == 1.0
    assert s["onset_rate"] == 0.0


def test_pitch_spread_and_level_follow_the_signal():
    flat = window_stats(prosody_frames(voiced(2.0, 150.0))[5:-5])
    wide = window_stats(prosody_frames(voiced(2.0, 150.0, vibrato=3.0))[5:-5])
    loud = window_stats(prosody_frames(voiced(2.0, 150.0, amp=0.6))[5:-5])
    i = {n: k for k, n in enumerate(STAT_NAMES)}
    assert wide[i["pitch_std"]] > 1.5 > flat[i["pitch_std"]]
    assert wide[i["pitch_range90"]] == pytest.approx(6.0, abs=0.6)  # +-3 semitones
    assert loud[i["level_mean"]] - flat[i["level_mean"]] == pytest.approx(20 * np.log10(2), abs=0.1)


def test_one_token_per_started_second():
    assert [n_tokens(n) for n in (0, 1, 16000, 16001, 40000)] == [0, 1, 1, 2, 3]
    frames = prosody_frames(voiced(2.5, 120.0))
    assert token_stats(frames, 3).shape == (3, N_STATS)


def test_trains_on_labelled_audio_and_round_trips(tmp_path):
    from spiritlm.training.prosody_style import ProsodyStyleTrainConfig, train_prosody_style

    rng = np.random.default_rng(0)
    lines = []
    for i in range(24):  # "low" voices at 100-120 Hz, "high" ones at 240-280 Hz: separable by pitch alone
        style = "low" if i % 2 else "high"
        f0 = rng.uniform(100, 120) if style == "low" else rng.uniform(240, 280)
        path = tmp_path / f"u{i}.wav"
        sf.write(path, voiced(1.0, f0), SR)
        lines.append({"id": f"u{i}", "audio": path.name, "style": style, "speaker": f"v{i % 3}",
                      "split": "valid" if i >= 16 else "train"})
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in lines))
    cfg = ProsodyStyleTrainConfig.preset("tiny", manifest=str(manifest), out_dir=str(tmp_path / "run"), steps=200,
                                         max_files=16, held_out="v2")
    result = train_prosody_style(cfg)
    assert result["labels"] == ["high", "low"] and result["train_utterances"] == 16 and result["train_tokens"] == 16
    # the tiny preset evaluates 4 valid files: half from the held-out voice v2 when it has them
    assert result["valid"]["all"] == {"tokens": 4, "token_accuracy": 1.0, "utterances": 4, "utterance_accuracy": 1.0}
    assert result["valid"]["held_out_voices"]["utterances"] == 2
    folder = tmp_path / "run" / "style"
    assert is_prosody_style(folder) and (tmp_path / "run" / "frames.npz").is_file()
    tok = load_prosody_style(folder)
    assert tok.labels == ["high", "low"]
    from spiritlm.speech.style import load as load_style

    assert load_style(folder).labels == ["high", "low"]  # the style door recognises the folder
    with pytest.raises(ValueError, match="a prosody style tokenizer saves in format 'ours', not 'official'"):
        tok.save(tmp_path / "x", format="official")
    assert tok.encode(voiced(1.0, 110.0)).tolist() == [1] and tok.encode(voiced(1.0, 260.0)).tolist() == [0]
    assert tok.encode(np.zeros(0, np.float32)).tolist() == [] and tok.num_units(32000) == 2
    again = train_prosody_style(cfg)  # the frames cache is reused: same data, same result
    assert again["valid"] == result["valid"]


def test_bad_manifest_lines_are_named(tmp_path):
    from spiritlm.training.prosody_style import ProsodyStyleTrainConfig, train_prosody_style

    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"id": "a", "audio": "a.wav"}) + "\n")
    with pytest.raises(ValueError, match=r"m.jsonl:1: a prosody-style manifest line needs id, audio, style; "
                                         r"missing \['style'\]"):
        train_prosody_style(ProsodyStyleTrainConfig.preset("tiny", manifest=str(m), out_dir=str(tmp_path / "r")))
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        train_prosody_style(ProsodyStyleTrainConfig.preset("tiny", manifest=str(tmp_path / "none.jsonl")))
