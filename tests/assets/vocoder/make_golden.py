"""Make golden.npz: the OFFICIAL vocoder's output on the tiny fixture folders.

Run outside the package (the official code is NOT part of this repository):

    rm -rf /tmp/official && mkdir -p /tmp/official
    git -C /work/.mirror/facebookresearch+spiritlm/repo archive 52fb2f4 spiritlm | tar -x -C /tmp/official
    .venv/bin/python tests/assets/vocoder/make_golden.py /tmp/official tests/assets/vocoder/golden.npz

The two official modules are loaded by file path (their package __init__ pulls in HuBERT, FCPE,
...); `torchaudio` is replaced by an empty stub because `spiritlm_tokenizer.py` imports it at the
top but `decode()` never uses it. For each case we store the waveform length, every STRIDE-th
sample, (sum, sum |x|, sum x^2, max |x|) of the whole waveform, and the predicted durations.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

STRIDE = 5
HERE = Path(__file__).resolve().parent


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def stats(wav: np.ndarray) -> np.ndarray:
    w = wav.astype(np.float64)
    return np.array([w.sum(), np.abs(w).sum(), (w * w).sum(), np.abs(w).max()])


def official_durations(voc, hubert: str) -> np.ndarray:
    m = voc.vocoder.model
    code = torch.tensor([[int(v) for v in hubert.split()]])
    with torch.no_grad():
        log_dur = m.dur_predictor(m.dict(code))
    return torch.clamp(torch.round(torch.exp(log_dur) - 1).long(), min=1)[0].numpy()


def main(official_root: str, out: str) -> None:
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    sys.path.insert(0, str(HERE))
    import vocoder_fixtures as fx

    src = Path(official_root) / "spiritlm" / "speech_tokenizer"
    hifigan = _load(src / "hifigan" / "hifigan_vocoder.py", "official_hifigan")
    tokmod = _load(src / "spiritlm_tokenizer.py", "official_tokenizer")
    results: dict[str, np.ndarray] = {}

    def record(name, wav, dur=None):
        wav = np.asarray(wav, dtype=np.float32)
        results[f"{name}/len"] = np.array(len(wav))
        results[f"{name}/wav"] = wav[::STRIDE].copy()
        results[f"{name}/stats"] = stats(wav)
        if dur is not None:
            results[f"{name}/dur"] = dur

    torch.manual_seed(0)  # dropout is off in eval; the seed only pins the random-style fallback path
    with tempfile.TemporaryDirectory() as tmp:
        base = fx.make_official_folder(Path(tmp) / "base", "base")
        voc = hifigan.HifiGANVocoder(base / "generator.pt", default_speaker=2, default_style=8)
        tok = tokmod.SpiritLMTokenizer(hubert_model=None, hifigan_model=voc)
        units = tokmod.string_to_units(fx.BASE_STRING)
        record("base_string", tok.decode(fx.BASE_STRING, speaker_id=1), official_durations(voc, units["hubert"]))
        record("base_raw_nodur", tok.decode(dict(fx.BASE_RAW), speaker_id=0, dur_pred=False))
        record("base_raw_compat", tok.decode(dict(fx.BASE_RAW)), official_durations(voc, fx.BASE_RAW["hubert"]))
        with torch.no_grad():
            wav = voc(fx.BASE_RAW["hubert"], speaker_id=3, style_id=3, dur_pred=True).numpy()
        record("base_dedup_style3", wav)

        expr = fx.make_official_folder(Path(tmp) / "expressive", "expressive")
        voc = hifigan.HifiGANVocoder(expr / "generator.pt", default_speaker=2)
        tok = tokmod.SpiritLMTokenizer(hubert_model=None, pitch_model=object(), style_model=object(),
                                       hifigan_model=voc)
        units = tokmod.string_to_units(fx.EXPR_STRING)
        record("expr_string", tok.decode(fx.EXPR_STRING, speaker_id=3), official_durations(voc, units["hubert"]))
        record("expr_raw", tok.decode(dict(fx.EXPR_RAW), speaker_id=0))
    np.savez_compressed(out, **results)
    for k, v in results.items():
        if k.endswith(("/len", "/dur")):
            print(k, v.tolist())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
