"""One door per speech part: a traced tokenizer load (sys.setprofile) enters each part's loader exactly
once, for Meta's folders (the official factories) and for ours (the bundle, `speech.json`), and every part
saves in one `save(path, format=...)`."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest
import torch

from spiritlm.checkpoints.tiny_root import write_tiny_speech
from spiritlm.speech import bundle, hubert, hubert_convert, phone_encoder, pitch, quantizer, style
from spiritlm.speech.bundle import SpeechSpec, write_specs
from spiritlm.speech_tokenizer import spiritlm_base, spiritlm_expressive
from spiritlm.torch_files import load_torch_file

LOADERS = {
    "bundle.load_encoder": bundle.load_encoder,
    "hubert.load": hubert.load,
    "hubert._read_official": hubert._read_official,
    "hubert._read_ours": hubert._read_ours,
    "hubert_convert.read_official_hubert": hubert_convert.read_official_hubert,
    "phone_encoder.load_phone_encoder": phone_encoder.load_phone_encoder,
    "quantizer.load": quantizer.load,
    "LinearQuantizer._from_checkpoint": quantizer.LinearQuantizer._from_checkpoint,
    "KmeansQuantizer._from_checkpoint": quantizer.KmeansQuantizer._from_checkpoint,
    "KmeansQuantizer._from_folder": quantizer.KmeansQuantizer._from_folder,
    "pitch.load": pitch.load,
    "pitch._read_official": pitch._read_official,
    "pitch._read_ours": pitch._read_ours,
    "style.load": style.load,
    "style._load_hf": style._load_hf,
    "torch_files.load_torch_file": load_torch_file,
}
CODES = {getattr(f, "__func__", f).__code__: name for name, f in LOADERS.items()}


def trace(fn) -> tuple[object, Counter]:
    """fn() and how many times each loader of LOADERS was entered while it ran."""
    calls: Counter = Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in CODES:
            calls[CODES[frame.f_code]] += 1

    sys.setprofile(profile)
    try:
        out = fn()
    finally:
        sys.setprofile(None)
    return out, calls


@pytest.fixture(scope="module")
def official_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    write_tiny_speech(root)
    return root


@pytest.fixture(scope="module")
def our_root(official_root, tmp_path_factory):
    """The same parts saved in our formats (k-means in place of the linear quantizer), listed in speech.json."""
    root = tmp_path_factory.mktemp("ours")
    st, off = root / "speech_tokenizer", official_root / "speech_tokenizer"
    hubert.load(off / "hubert_25hz" / "mhubert_base_25hz.pt", layer=6).save(st / "hubert")
    centroids = torch.randn(12, 32, generator=torch.Generator().manual_seed(0))
    quantizer.KmeansQuantizer(centroids).save(st / "quantizer", feature="hubert-l6")
    pitch.load(off / "vqvae_f0_quantizer").save(st / "pitch")
    style.load(off / "style_encoder_w2v2").save(st / "style")
    torch.manual_seed(0)
    phone_encoder.PhoneEncoder(phone_encoder.PhoneEncoderConfig.preset("tiny")).save(st / "phones")
    write_specs(root, {"base": SpeechSpec(hubert="phones", quantizer="quantizer"),
                       "expressive": SpeechSpec(hubert="hubert", quantizer="quantizer", layer=6, pitch="pitch",
                                                style="style")})
    return root


def test_official_expressive_load_enters_each_loader_once(official_root):
    tok, calls = trace(lambda: spiritlm_expressive(root=official_root))
    assert tok.tokenizer.is_expressive
    assert calls == {"hubert.load": 1, "hubert._read_official": 1, "hubert_convert.read_official_hubert": 1,
                     "quantizer.load": 1, "LinearQuantizer._from_checkpoint": 1, "pitch.load": 1,
                     "pitch._read_official": 1, "style.load": 1, "style._load_hf": 1,
                     "torch_files.load_torch_file": 3}  # mhubert .pt, quantizer .pt, VQ-VAE model.pt


def test_official_base_load_reads_only_hubert_and_quantizer(official_root):
    _, calls = trace(lambda: spiritlm_base(root=official_root))
    assert calls == {"hubert.load": 1, "hubert._read_official": 1, "hubert_convert.read_official_hubert": 1,
                     "quantizer.load": 1, "LinearQuantizer._from_checkpoint": 1, "torch_files.load_torch_file": 2}


def test_bundle_load_enters_each_loader_once(our_root):
    tok, calls = trace(lambda: bundle.load_encoder(our_root, "expressive"))
    assert tok.is_expressive and tok.hubert.n_layers == 6
    assert calls == {"bundle.load_encoder": 1, "hubert.load": 1, "hubert._read_ours": 1, "quantizer.load": 1,
                     "KmeansQuantizer._from_folder": 1, "pitch.load": 1, "pitch._read_ours": 1, "style.load": 1,
                     "style._load_hf": 1}


def test_the_hubert_door_recognises_the_phone_encoder(our_root):
    tok, calls = trace(lambda: bundle.load_encoder(our_root, "base"))
    assert isinstance(tok.hubert, phone_encoder.PhoneEncoder) and not tok.is_expressive
    assert calls == {"bundle.load_encoder": 1, "hubert.load": 1, "phone_encoder.load_phone_encoder": 1,
                     "quantizer.load": 1, "KmeansQuantizer._from_folder": 1}


def test_parts_saved_in_our_formats_encode_as_meta_s(official_root, our_root):
    wav = (np.random.default_rng(0).standard_normal(24000) * 0.1).astype(np.float32)
    theirs = spiritlm_expressive(root=official_root).tokenizer
    ours = bundle.load_encoder(our_root, "expressive")
    x = torch.from_numpy(wav)[None]
    layer6 = hubert.load(official_root / "speech_tokenizer" / "hubert_25hz" / "mhubert_base_25hz.pt", layer=6)
    with torch.inference_mode():
        assert torch.equal(ours.hubert(x)[0], layer6(x)[0])
    assert np.array_equal(ours.pitch.encode(wav), theirs.pitch.encode(wav))
    assert np.array_equal(ours.style.encode(wav), theirs.style.encode(wav))


def test_one_save_per_part_with_its_formats(tmp_path):
    km = quantizer.KmeansQuantizer(torch.randn(6, 4, generator=torch.Generator().manual_seed(1)))
    linear = quantizer.load(km.save(tmp_path / "q.pt", format="official"))
    x = torch.randn(1, 30, 4, generator=torch.Generator().manual_seed(2))
    assert isinstance(linear, quantizer.LinearQuantizer) and torch.equal(linear(x), km(x))
    assert linear.save(tmp_path / "again.pt") == tmp_path / "again.pt"
    with pytest.raises(ValueError, match="a linear quantizer saves in format 'official', not 'ours'"):
        linear.save(tmp_path / "x", format="ours")
    with pytest.raises(ValueError, match="a k-means quantizer saves in format 'ours' or 'official', not 'onnx'"):
        km.save(tmp_path / "y", format="onnx")


def test_the_old_doors_are_gone():
    old = {hubert.HubertFeatures: ("from_official", "from_pretrained", "save_pretrained"),
           quantizer.LinearQuantizer: ("from_official",),
           quantizer.KmeansQuantizer: ("from_official", "from_pretrained", "save_pretrained"),
           pitch.PitchTokenizer: ("load", "from_official", "from_pretrained", "save_pretrained", "save_official"),
           style.StyleTokenizer: ("load", "from_official", "from_pretrained", "save_pretrained")}
    assert [f"{c.__name__}.{n}" for c, names in old.items() for n in names if hasattr(c, n)] == []
    assert [m for m in ("load_hubert", "resolve_hubert") if hasattr(hubert, m)] == []
    assert not hasattr(quantizer, "load_quantizer") and not hasattr(pitch, "resolve_checkpoint_dir")
