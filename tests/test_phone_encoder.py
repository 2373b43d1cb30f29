"""The phone inventory and the phone-supervised unit encoder (the mini v2 [Hu] source)."""

import json

import numpy as np
import pytest
import torch

from spiritlm.speech.hubert import load as load_hubert
from spiritlm.speech.phone_encoder import PhoneEncoder, PhoneEncoderConfig, is_phone_encoder
from spiritlm.speech.phones import PHONE_ID, PHONES, frame_targets, segments, to_inventory
from spiritlm.speech.quantizer import KmeansQuantizer
from spiritlm.speech.tokenizer import SpeechTokenizer


def test_inventory_maps_every_alphabet():
    assert len(PHONES) == 40 and PHONES[0] == "sil"
    assert [to_inventory("espeak", p) for p in ("aI", "D", "@2", "tS", "?")] == ["ay", "dh", "ah", "ch", "t"]
    assert [to_inventory("piper", p) for p in ("ð", "ɪ", "ɹ", "ː")] == ["dh", "ih", "r", None]
    assert [to_inventory(e, p) for e, p in (("flite", "ax"), ("festival", "AY1"), ("flite", "pau"))] == \
        ["ah", "ay", "sil"]


def test_inventory_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown corpus engine 'mbrola'; valid: flite, festival, espeak, piper"):
        to_inventory("mbrola", "a")
    with pytest.raises(ValueError, match="espeak phone 'Q!' has no entry"):
        to_inventory("espeak", "Q!")


def test_modifiers_extend_the_phone_before():
    segs = segments("piper", [{"phone": "a", "start": 0.0, "end": 0.1}, {"phone": "ː", "start": 0.1, "end": 0.2},
                              {"phone": "b", "start": 0.2, "end": 0.25}])
    assert segs == [("aa", 0.0, 0.2), ("b", 0.2, 0.25)]


def test_frame_targets_at_frame_centres_and_speed_scale():
    segs = [("b", 0.0, 0.08), ("aa", 0.08, 0.2)]
    # centres 0.02 0.06 0.10 0.14 0.18 0.22
    assert frame_targets(segs, 6, 0.04).tolist() == [PHONE_ID[p] for p in ("b", "b", "aa", "aa", "aa", "sil")]
    # audio sped up 2x: times halve, centres of 3 frames 0.02 0.06 0.10 -> b, aa, sil
    assert frame_targets(segs, 3, 0.04, time_scale=0.5).tolist() == [PHONE_ID["b"], PHONE_ID["aa"], 0]


@pytest.fixture(scope="module")
def tiny_encoder():
    torch.manual_seed(0)
    return PhoneEncoder(PhoneEncoderConfig.preset("tiny")).eval()


def test_encoder_frames_and_padding_invariance(tiny_encoder):
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(16000, generator=g) * 0.1, torch.randn(9000, generator=g) * 0.1
    batch = torch.zeros(2, 16000)
    batch[0], batch[1, :9000] = a, b
    with torch.inference_mode():
        feats, frames = tiny_encoder(batch, torch.tensor([16000, 9000]))
        single, n = tiny_encoder(b)
    assert frames.tolist() == [25, 14] and feats.shape == (2, 25, 32) and int(n[0]) == 14
    torch.testing.assert_close(feats[1, :14], single[0], atol=1e-4, rtol=1e-4)
    assert float(feats[1, 14:].abs().max()) == 0.0


def test_folder_loads_through_the_hubert_door_and_tokenizes(tiny_encoder, tmp_path):
    folder = tiny_encoder.save(tmp_path / "enc")
    assert is_phone_encoder(folder) and json.loads((folder / "config.json").read_text())["config"]["dim"] == 32
    back = load_hubert(folder, layer=6)  # the layer is a HuBERT notion; the encoder ignores it
    wav = np.random.default_rng(2).standard_normal(20000).astype(np.float32) * 0.1
    with torch.inference_mode():
        torch.testing.assert_close(back(torch.from_numpy(wav))[0], tiny_encoder(torch.from_numpy(wav))[0])
    centroids = torch.randn(7, 32, generator=torch.Generator().manual_seed(3))
    units = SpeechTokenizer(back, KmeansQuantizer(centroids)).encode_units(wav)
    assert len(units.hubert) == 20000 // 640 and units.hubert.max() < 7
