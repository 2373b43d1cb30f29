"""Streaming synthesis == offline synthesis; the receptive-field bound really covers the stack."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent / "assets" / "vocoder"))
import vocoder_fixtures as fx  # noqa: E402

from spiritlm.units import SpeechUnits  # noqa: E402
from spiritlm.vocoder import CodeHiFiGAN, UnitVocoder, VocoderConfig, load_vocoder  # noqa: E402
from spiritlm.vocoder.decode import plan_units  # noqa: E402
from spiritlm.vocoder.stateful import StreamingStack  # noqa: E402
from spiritlm.vocoder.streaming import chunk_bounds, context_frames, stream_frames  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def expr(tmp_path_factory):
    return load_vocoder(fx.make_official_folder(tmp_path_factory.mktemp("e") / "expr", "expressive"))


def test_chunk_bounds():
    assert chunk_bounds(23, 10, 3) == [(0, 3), (3, 13), (13, 23)]
    assert chunk_bounds(5, 10) == [(0, 5)]
    with pytest.raises(ValueError, match="chunk sizes must be >= 1"):
        chunk_bounds(5, 0)


@pytest.mark.parametrize("chunk,first", [(3, 1), (7, None), (50, 10)])
def test_context_stream_equals_offline_aligned(expr, chunk, first):
    offline = expr.decode(fx.EXPR_STRING, speaker_id=1)
    pieces = list(expr.stream(fx.EXPR_STRING, speaker_id=1, chunk_units=chunk, first_chunk_units=first,
                              mode="context"))
    n_frames = len(offline) // 640
    assert len(pieces) == len(chunk_bounds(n_frames, chunk, first))
    assert len(pieces[0]) == min(first or chunk, n_frames) * 640
    stream = np.concatenate(pieces)
    assert stream.shape == offline.shape
    assert np.abs(stream - offline).max() <= 1e-4


@pytest.mark.parametrize("chunk,first", [(1, 1), (3, None), (5, 2), (50, 10)])
def test_stateful_stream_equals_offline(expr, chunk, first):
    offline = expr.decode(fx.EXPR_STRING, speaker_id=1)
    pieces = list(expr.stream(fx.EXPR_STRING, speaker_id=1, chunk_units=chunk, first_chunk_units=first))
    assert all(len(p) for p in pieces)
    stream = np.concatenate(pieces)
    assert stream.shape == offline.shape
    assert np.abs(stream - offline).max() <= 1e-4


def test_stateful_pushes_of_any_size_equal_offline():
    torch.manual_seed(1)
    cfg = VocoderConfig.preset("tiny")
    stack = CodeHiFiGAN(cfg).eval().stack
    x = torch.randn(1, cfg.in_channels, 40)
    with torch.inference_mode():
        offline = stack(x)[0]
        for sizes in ([1] * 40, [0, 7, 0, 33], [40]):
            runner, pos, out = StreamingStack(stack), 0, []
            for i, n in enumerate(sizes):
                out.append(runner.push(x[:, :, pos:pos + n], final=i == len(sizes) - 1)[0])
                pos += n
            assert torch.cat(out).shape == offline.shape
            assert float((torch.cat(out) - offline).abs().max()) <= 1e-5
            if sizes[0] == 1:  # look-ahead: the first frame alone finalizes no sample, 39 frames do
                assert len(out[0]) == 0 and sum(len(o) for o in out[:-1]) > 0
        with pytest.raises(RuntimeError, match="this stream has ended"):
            runner.push(x[:, :, :1])


def test_stream_mode_error(expr):
    with pytest.raises(ValueError, match="unknown stream mode 'fast'; valid: stateful, context"):
        next(expr.stream(fx.EXPR_STRING, mode="fast"))


def test_stream_equals_offline_raw_units(expr):
    units = SpeechUnits.from_official_dict(fx.EXPR_RAW)
    offline = expr.synthesize(units, speaker_id=0)
    for mode in ("stateful", "context"):
        stream = np.concatenate(list(expr.stream(units, speaker_id=0, chunk_units=6, first_chunk_units=2, mode=mode)))
        assert np.abs(stream - offline).max() <= 1e-4


def test_context_bound_covers_receptive_field():
    torch.manual_seed(0)
    cfg = VocoderConfig.preset("tiny")
    stack = CodeHiFiGAN(cfg).eval().stack
    ctx = context_frames(cfg)
    n, mid = 2 * ctx + 21, ctx + 10
    x = torch.randn(1, cfg.in_channels, n)
    x2 = x.clone()
    x2[:, :, mid] += 1.0
    with torch.inference_mode():
        diff = (stack(x2) - stack(x))[0].abs().reshape(n, cfg.hop_length).amax(dim=1)
    touched = torch.nonzero(diff > 0).flatten()
    reach = max(mid - int(touched.min()), int(touched.max()) - mid)
    assert 0 < reach <= ctx
    assert ctx - reach <= 3  # the bound is not wildly loose


def test_official_size_context_and_long_input():
    assert context_frames(VocoderConfig.preset("base")) == 23
    torch.manual_seed(0)
    voc = UnitVocoder(CodeHiFiGAN(VocoderConfig.preset("tiny")))
    units = SpeechUnits(np.random.RandomState(0).randint(0, 32, size=120))
    offline = voc.synthesize(units)
    plan = plan_units(units, voc.config)
    assert not plan.predict_durations
    cond = voc.features(plan, voc.speaker_index(), voc.style_index())
    with torch.inference_mode():
        pieces = [p.numpy() for p in stream_frames(voc.model.stack, cond, 16, 4)]
    assert np.abs(np.concatenate(pieces) - offline).max() <= 1e-4


@pytest.mark.slow
def test_official_size_streaming_equals_offline():
    torch.manual_seed(0)
    voc = UnitVocoder(CodeHiFiGAN(VocoderConfig.preset("expressive")))
    rs = np.random.RandomState(0)
    units = SpeechUnits(rs.randint(0, 501, 60), rs.randint(0, 64, 30), rs.randint(0, 100, 3))
    offline = voc.synthesize(units)
    for mode in ("stateful", "context"):
        stream = np.concatenate(list(voc.stream(units, chunk_units=20, first_chunk_units=5, mode=mode)))
        assert np.abs(stream - offline).max() <= 1e-4
