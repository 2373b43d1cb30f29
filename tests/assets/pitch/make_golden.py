"""Make golden.json: what the OFFICIAL Spirit F0 tokenizer returns on the tiny random checkpoints of helpers.py.

Run once, outside the repository's code path for the official side::

    git -C /work/.mirror/facebookresearch+spiritlm/repo archive HEAD spiritlm | tar -x -C /tmp/official
    .venv/bin/python tests/assets/pitch/make_golden.py /tmp/official [/tmp/golden_site]

It imports the official `speech_tokenizer/f0` package by path (as `official_f0`, with a stand-in
`torchaudio` that only has to exist), builds `F0Tokenizer` on each checkpoint written by
`helpers.write_official`, and stores only the resulting numbers. `/tmp/golden_site` (optional) is a
`pip install --target` folder holding librosa, which the official pYAAPT path imports.
Commit 52fb2f4 of facebookresearch/spiritlm, torch 2.13, torchfcpe 0.0.4, amfm-decompy 1.0.12.2.
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

sys.path.insert(0, str(Path(__file__).parent))
import helpers  # noqa: E402


def import_official(root: Path):
    ta = types.ModuleType("torchaudio")
    tr = types.ModuleType("torchaudio.transforms")

    class Resample:
        def __init__(self, *a, **k):
            raise RuntimeError("16 kHz only")

    tr.Resample = Resample
    ta.transforms = tr
    sys.modules.setdefault("torchaudio", ta)
    sys.modules.setdefault("torchaudio.transforms", tr)
    pkg = root / "spiritlm" / "speech_tokenizer" / "f0"
    spec = importlib.util.spec_from_file_location("official_f0", pkg / "__init__.py",
                                                  submodule_search_locations=[str(pkg)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["official_f0"] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    root = Path(sys.argv[1])
    if len(sys.argv) > 2:
        sys.path.append(sys.argv[2])  # librosa for the official pYAAPT path
    off = import_official(root)
    wav, sr = sf.read(str(helpers.REFERENCE_AUDIO), dtype="float32")
    assert sr == 16000
    x = torch.from_numpy(wav)
    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(24000) / 16000)).astype(np.float32)
    out: dict = {"audio": helpers.REFERENCE_AUDIO.name, "n_samples": len(wav)}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in helpers.VARIANTS:
            folder = helpers.write_official(Path(tmp) / variant, variant)
            for method in ("fcpe", "pyaapt"):
                tok = off.F0Tokenizer(f0_extractor_method=method, quantizer_path=folder / "model.pt", hop_length=80,
                                      sampling_rate=16000, interpolate=True, device="cpu")
                res = out.setdefault(variant, {}).setdefault(method, {})
                res["codes"] = tok(x).tolist()
                if variant == "speaker":
                    res["codes_spk1"] = tok(x, speaker="spk1").tolist()
                if variant == "norm" and method == "fcpe":
                    codes, pred = tok(x, compute_vqvae_pred=True)
                    res["pred_first64"] = pred[:, :64].tolist()
                    res["tone_codes"] = tok(torch.from_numpy(tone)).tolist()
                    res["short_1280_codes"] = tok(x[20000:21280]).tolist()
                if variant == "norm":
                    f0, vuv = tok.f0_extractor(x, vuv=True)
                    out.setdefault("f0", {})[method] = {"f0": np.asarray(f0, dtype=np.float64).tolist(),
                                                        "vuv": np.asarray(vuv, dtype=np.float64).tolist()}
    helpers.GOLDEN.write_text(json.dumps(out))
    print("wrote", helpers.GOLDEN, {v: len(out[v]["fcpe"]["codes"]) for v in helpers.VARIANTS})


if __name__ == "__main__":
    main()
