"""Shared fixtures: tiny random checkpoints in the official layout (built once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ASSETS = Path(__file__).parent / "assets"
SHARED_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "reference" / "audio" / "7143-88743-0029.flac"


@pytest.fixture(scope="session")
def official_vectors() -> dict:
    return json.loads((ASSETS / "official" / "test_vectors.json").read_text())


@pytest.fixture(scope="session")
def reference_flac() -> Path:
    if not SHARED_AUDIO.is_file():
        pytest.fail(f"the official example audio is missing: {SHARED_AUDIO} (CI copies ../shared beside the repo)")
    return SHARED_AUDIO


@pytest.fixture(scope="module")
def reference_wav(reference_flac) -> np.ndarray:
    """The official example audio as 16 kHz mono float32 (loaded once per module)."""
    from spiritlm.audio import load_audio

    return load_audio(reference_flac)


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module: tiny models run fastest so (~50x faster than on two threads of a busy
    shared machine, where the threads spin-wait), and the cores are shared.

    Opt in with `pytestmark = pytest.mark.usefixtures("one_thread")`; the previous count is restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """A checkpoints root with spiritlm_model/spirit-lm-{base,expressive}-7b, official 32000-id text vocabulary."""
    from spiritlm.lm.tiny import write_tiny_checkpoint_root

    root = tmp_path_factory.mktemp("checkpoints")
    write_tiny_checkpoint_root(root, "base", text_vocab_size=32000, seed=1)
    write_tiny_checkpoint_root(root, "expressive", text_vocab_size=32000, seed=2)
    return root


@pytest.fixture(scope="session")
def tiny_small_dir(tmp_path_factory) -> Path:
    """A tiny Expressive checkpoint with the small (512-id) text vocabulary, safetensors weights."""
    from spiritlm.lm.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("small") / "tiny-expressive", "expressive",
                                 weights="safetensors", seed=3)


class FakeVocoder:
    """Test double for the vocoder seam: 640 samples per Hu unit, value = unit / 1000."""

    sample_rate = 16000

    def __init__(self):
        self.calls = []

    def synthesize(self, units, speaker_id=None):
        self.calls.append((units, speaker_id))
        return np.repeat(units.hubert.astype(np.float32) / 1000.0, 640)


class FakeEncoder:
    """Test double for the speech-encoder seam: one Hu unit per 640 samples from the frame's mean level."""

    is_expressive = False

    def encode_units(self, wav):
        from spiritlm.units import SpeechUnits

        n = len(wav) // 640
        frames = np.abs(wav[: n * 640]).reshape(n, 640).mean(axis=1)
        return SpeechUnits(np.minimum((frames * 5000).astype(np.int64), 500))


@pytest.fixture
def fake_vocoder():
    return FakeVocoder()


@pytest.fixture
def fake_encoder():
    return FakeEncoder()
