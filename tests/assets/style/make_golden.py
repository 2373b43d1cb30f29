"""Make golden.json: what the OFFICIAL `Wav2Vec2StyleEncoder` returns on the tiny random checkpoint of helpers.py.

Run once, outside the repository's code path for the official side::

    git -C /work/.mirror/facebookresearch+spiritlm/repo archive HEAD spiritlm | tar -x -C /tmp/official
    .venv/bin/python tests/assets/style/make_golden.py /tmp/official

The official module is imported by path (as `official_style`) with a stand-in `torchaudio`. Its
`Wav2Vec2FeatureExtractor.from_pretrained("facebook/wav2vec2-base")` would download from the Hub; here it
returns a feature extractor built from `spiritlm.speech.style.PREPROCESSOR` (the published
facebook/wav2vec2-base preprocessor_config.json values). Only the resulting numbers are stored.
Commit 52fb2f4 of facebookresearch/spiritlm, torch 2.13, transformers 5.24.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import transformers

sys.path.insert(0, str(Path(__file__).parent))
import helpers  # noqa: E402

from spiritlm.speech.style import PREPROCESSOR  # noqa: E402


def import_official(root: Path):
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    path = root / "spiritlm" / "speech_tokenizer" / "style_encoder" / "w2v2_encoder.py"
    spec = importlib.util.spec_from_file_location("official_style", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def offline_feature_extractor(*args, **kwargs):
    return transformers.Wav2Vec2FeatureExtractor(**PREPROCESSOR)


def main() -> None:
    off = import_official(Path(sys.argv[1]))
    off.Wav2Vec2FeatureExtractor.from_pretrained = staticmethod(offline_feature_extractor)
    wav, sr = sf.read(str(helpers.REFERENCE_AUDIO), dtype="float32")
    x = torch.from_numpy(wav)
    tone = torch.from_numpy((0.3 * np.sin(2 * np.pi * 180 * np.arange(24000) / 16000)).astype(np.float32))
    out: dict = {"audio": helpers.REFERENCE_AUDIO.name, "n_samples": len(wav)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = helpers.write_official(Path(tmp) / "style_encoder_w2v2")
        enc = off.Wav2Vec2StyleEncoder.from_pretrained(str(folder)).eval()
        out["units"] = enc(x).tolist()
        out["tone_units"] = enc(tone).tolist()
        out["units_1s_tail"] = enc(x[:16000 + 4000]).tolist()
        # logits the official forward computes before its argmax (same steps, kept for 1e-4 checks)
        with torch.no_grad():
            inputs = enc.feature_extractor(x, sampling_rate=16000, return_tensors="pt").input_values
            hidden = enc.projector(enc.wav2vec2(inputs)[0])
            pooled = torch.stack([hidden[:, i:i + 50].mean(dim=1) for i in range(0, hidden.shape[1], 50)], dim=1)
            out["logits"] = enc.classifier(pooled)[0].tolist()
            out["n_frames"] = hidden.shape[1]
    helpers.GOLDEN.write_text(json.dumps(out))
    print("wrote", helpers.GOLDEN, out["units"], out["tone_units"], out["units_1s_tail"], out["n_frames"])


if __name__ == "__main__":
    main()
