"""SpeechTokenizer and the official SpiritLMTokenizer surface: chunking, bad input, batching, decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from spiritlm.audio import AudioError
from spiritlm.generation.interfaces import SpeechEncoder
from spiritlm.speech.hubert import load as load_hubert
from spiritlm.speech.quantizer import load as load_quantizer
from spiritlm.speech.random_checkpoints import write_hubert_checkpoints
from spiritlm.speech.tokenizer import SpeechTokenizer
from spiritlm.speech_tokenizer import SpiritLMTokenizer, spiritlm_base, spiritlm_expressive
from spiritlm.tokens import units_to_string
from spiritlm.units import SpeechUnits

REF_AUDIO = str(Path(__file__).resolve().parents[2] / "shared" / "reference" / "audio" / "7143-88743-0029.flac")


class CountingStream:
    """A stand-in pitch/style stream: `rate` codes per `hop` samples, value = chunk length % 50."""

    def __init__(self, hop: int, extra: int = 0) -> None:
        self.hop, self.extra, self.calls = hop, extra, []

    def encode(self, wav: np.ndarray) -> np.ndarray:
        self.calls.append(len(wav))
        return np.full((len(wav) + self.extra) // self.hop, len(wav) % 50, dtype=np.int64)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_hubert_checkpoints(tmp_path_factory.mktemp("ck"), "tiny", seed=0)


@pytest.fixture(scope="module")
def tok(files) -> SpeechTokenizer:
    return SpeechTokenizer(load_hubert(files.hubert), load_quantizer(files.quantizer))


@pytest.fixture(scope="module")
def ref() -> np.ndarray:
    return sf.read(REF_AUDIO, dtype="float32")[0]


def test_is_a_speech_encoder(tok, ref):
    assert isinstance(tok, SpeechEncoder) and not tok.is_expressive
    units = tok.encode_units(ref)
    assert isinstance(units, SpeechUnits) and len(units.hubert) == 228 and units.pitch is None
    assert tok.encode_string(ref) == units_to_string(units)


def test_chunking_rules(files, ref):
    pitch, style = CountingStream(1280, 80), CountingStream(16000, 15999)
    small = SpeechTokenizer(load_hubert(files.hubert), load_quantizer(files.quantizer), pitch, style,
                            max_chunk=64_000)
    wav = np.concatenate([ref, ref[:2000]])[:64_000 * 2 + 1000]  # 2 full chunks + a 1000-sample tail
    units = small.encode_units(wav)
    assert pitch.calls == [64_000, 64_000] and style.calls == [64_000, 64_000]  # the tail is skipped
    assert len(units.hubert) == 2 * 99 and len(units.pitch) == 2 * 50 and len(units.style) == 2 * 4
    single = small.encode_units(wav[:64_000])
    assert np.array_equal(units.hubert[:99], single.hubert)


def test_bad_inputs(tok, ref, tmp_path, caplog):
    with pytest.raises(AudioError, match="empty"):
        tok.encode_units(np.zeros(0, np.float32))
    with pytest.raises(AudioError, match="NaN or Inf"):
        tok.encode_units(np.array([0.1, np.nan] * 1000, np.float32))
    with pytest.raises(AudioError, match="NaN or Inf"):
        tok.encode_units(np.array([0.1, np.inf] * 1000, np.float32))
    assert len(tok.encode_units(np.zeros(1, np.float32)).hubert) == 0  # 1 sample: no chunk, no units
    assert "shorter than 1280" in caplog.text
    assert len(tok.encode_units(ref[:1280]).hubert) == 1  # exactly 80 ms: one chunk, one frame
    assert len(tok.encode_units(np.zeros(16_000, np.float32)).hubert) == 24  # digital silence
    clipped = np.clip(ref * 20, -1, 1)
    assert len(tok.encode_units(clipped).hubert) == 228
    assert len(tok.encode_units(ref * 3).hubert) == 228 and "beyond [-1, 1]" in caplog.text
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioError, match="cannot read audio"):
        tok.encode_units(tmp_path / "bad.wav")
    sf.write(tmp_path / "ok.wav", ref, 16000)
    (tmp_path / "cut.wav").write_bytes((tmp_path / "ok.wav").read_bytes()[:30])
    with pytest.raises(AudioError):
        tok.encode_units(tmp_path / "cut.wav")
    with pytest.raises(AudioError, match="audio file not found"):
        tok.encode_units(tmp_path / "none.wav")


def test_dtypes_channels_and_rates(tok, ref, tmp_path):
    ref = ref[:48_000]
    base = tok.encode_units(ref).hubert
    pcm = np.round(ref * 32767).astype(np.int16)
    assert np.mean(tok.encode_units(pcm).hubert == base) > 0.9
    assert np.array_equal(tok.encode_units(ref.astype(np.float64)).hubert, base)
    stereo = np.stack([ref, ref])
    assert np.array_equal(tok.encode_units(stereo).hubert, base)
    assert np.array_equal(tok.encode_units(np.stack([ref, np.zeros_like(ref)]), channel=0).hubert, base)
    with pytest.raises(AudioError, match="channel 2 does not exist"):
        tok.encode_units(stereo, channel=2)
    import soxr

    for sr in (8000, 22050, 44100, 48000):
        wav = soxr.resample(ref, 16000, sr)
        sf.write(tmp_path / f"a{sr}.wav", wav, sr)
        n = len(tok.encode_units(tmp_path / f"a{sr}.wav").hubert)
        assert n == tok.hubert.num_frames(round(len(wav) * 16000 / sr))
        assert len(tok.encode_units(wav, sample_rate=sr).hubert) == n


def test_batch_equals_singles_and_reports_bad_files(tok, ref, tmp_path):
    ref = ref[:64_000]
    sf.write(tmp_path / "a.flac", ref, 16000)
    sf.write(tmp_path / "b.wav", ref[:40_000], 16000)
    (tmp_path / "broken.wav").write_bytes(b"not audio at all")
    inputs = [tmp_path / "a.flac", tmp_path / "broken.wav", ref[5000:30_000], tmp_path / "b.wav", ref[:1000],
              np.zeros(0, np.float32)]
    results = tok.encode_batch(inputs)
    assert [r.ok for r in results] == [True, False, True, True, True, False]
    assert "cannot read audio" in results[1].error and "empty" in results[5].error
    assert len(results[4].units.hubert) == 0  # shorter than 80 ms: no units, not an error
    assert results[0].units.audio == str(tmp_path / "a.flac")
    for r, x in zip(results, inputs):
        if r.ok:
            assert r.units == tok.encode_units(x)


def test_official_surface(files, ref):
    tok = spiritlm_base(root=files.hubert.parents[2])
    d = tok.encode_units(REF_AUDIO)
    assert set(d) == {"audio", "hubert"} and len(d["hubert"].split()) == 228
    assert tok(torch.from_numpy(ref)) == tok.encode_string(REF_AUDIO) == tok.units2string(d)
    back = tok.string2units(tok(ref))
    assert set(back) == {"hubert"}
    assert back["hubert"].split() == [u for i, u in enumerate(d["hubert"].split())
                                      if i == 0 or u != d["hubert"].split()[i - 1]]
    expr = spiritlm_expressive(root=files.hubert.parents[2], pitch=CountingStream(1280, 80),
                               style=CountingStream(16000, 15999))
    units = expr.encode_units(ref)
    assert set(units) == {"hubert", "pitch", "style"}
    assert (len(units["pitch"].split()), len(units["style"].split())) == (114, 10)  # official counts
    s = expr(ref)
    assert s.startswith("[St") and s.count("[St") == 10
    assert expr.string2units("[Pi3][Hu5][Hu6]") == {"hubert": "5 6", "pitch": "3 3", "style": "71 71"}
    assert expr.string2units("[Pi3][Hu5]", missing_style="random")["style"] in ("71", "68", "98")


def test_factories_explain_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="SPIRITLM_CHECKPOINTS_DIR"):
        spiritlm_base(root=tmp_path)
    with pytest.raises(ValueError, match="valid: fcpe, pyaapt"):
        spiritlm_expressive(f0_backbone="crepe", root=tmp_path)


def test_decode_delegates_to_the_vocoder(files, tmp_path):
    from spiritlm.vocoder import CodeHiFiGAN, VocoderConfig, load_vocoder
    from spiritlm.vocoder.convert import save_folder

    cfg = VocoderConfig.preset("tiny")
    torch.manual_seed(0)
    folder = save_folder(tmp_path / "voc", cfg, CodeHiFiGAN(cfg).state_dict())
    tok = spiritlm_base(root=files.hubert.parents[2], vocoder_path=folder)
    assert isinstance(tok, SpiritLMTokenizer) and tok._vocoder is None
    code = "[Hu3][Hu7][Hu7][Hu1]"
    wav = tok.decode(code, speaker_id=1, dur_pred=False)
    ref = load_vocoder(folder, default_style=8).decode(code, speaker_id=1, dur_pred=False)
    assert wav.dtype == np.float32 and np.array_equal(wav, ref)
    with pytest.raises(ValueError, match="no vocoder"):
        SpiritLMTokenizer(tok.tokenizer).decode(code)


@pytest.mark.slow
def test_ten_minute_file_is_chunked(tok, ref, tmp_path):
    wav = np.tile(ref, 66)[:600 * 16000]  # 10 minutes
    sf.write(tmp_path / "long.flac", wav, 16000)
    units = tok.encode_units(tmp_path / "long.flac")
    assert len(units.hubert) == 6 * 2499  # six 100 s chunks, each on its own
    assert np.array_equal(units.hubert[2499:2 * 2499], tok.encode_units(wav[1_600_000:3_200_000]).hubert)


def test_batches_group_similar_lengths_within_a_sample_budget(tok):
    small = SpeechTokenizer(tok.hubert, tok.quantizer, batch_size=3, max_batch_samples=30_000)
    lengths = [10_000, 9_000, 2_000, 8_000, 7_900, 9_500, 1_900]
    assert small._batches(lengths) == [[0, 5, 1], [3, 4], [2, 6]]
    assert small._batches([20_000, 19_000]) == [[0], [1]]  # 2 x 20,000 > 30,000 samples
