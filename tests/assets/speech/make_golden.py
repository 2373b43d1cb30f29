"""Make the golden HuBERT features/units of tests/test_speech_official.py from the OFFICIAL code.

Run from the repository root (needs the official repo mirrored at /work/.mirror, see common rules):

    .venv/bin/python tests/assets/speech/make_golden.py

1. Our seeded helper writes tiny random checkpoints in the official formats (/tmp/speech_golden/ckpt).
2. The official `spiritlm/speech_tokenizer/hubert/` package and `spiritlm_tokenizer.py` are exported
   with `git archive` to /tmp/speech_golden/official (outside this repository), imported under another
   package name with a stub `torchaudio` module, and run on those files in a separate process.
3. Only the resulting numbers are saved here, in golden.npz (+ golden_strings.json).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = Path("/tmp/speech_golden")
MIRROR = "/work/.mirror/facebookresearch+spiritlm/repo"
REF = "/work/shared/reference/audio/7143-88743-0029.flac"


def inputs() -> dict[str, np.ndarray]:
    import soundfile as sf

    ref, _ = sf.read(REF, dtype="float32")
    t = np.arange(20_000) / 16000
    return {
        "ref": ref,
        "odd": ref[:17_000],  # an odd number of frames (the official pads to even)
        "tone": (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:16_640],
        "long": np.tile(ref, 12)[:1_600_000 + 24_000],  # two chunks: 100 s + 1.5 s
        "tail": np.tile(ref, 11)[:1_600_000 + 1_000],  # the 1000-sample tail chunk is skipped
    }


OFFICIAL_RUNNER = textwrap.dedent('''
    import json, sys, types
    import numpy as np, torch
    sys.modules["torchaudio"] = types.ModuleType("torchaudio")  # only used for file loading
    sys.path.insert(0, sys.argv[1])
    from ofhub.hubert_tokenizer import HubertTokenizer
    from ofhub.spiritlm_tokenizer import SpiritLMTokenizer
    ckpt, data = sys.argv[2], np.load(sys.argv[3])
    hub = HubertTokenizer(ckpt + "/hubert_25hz/mhubert_base_25hz.pt", 11, ckpt + "/hubert_25hz/L11_quantizer_500.pt")
    tok = SpiritLMTokenizer(hubert_model=hub)
    out, strings = {}, {}
    for name in data.files:
        wav = torch.from_numpy(data[name])
        if name != "long" and name != "tail":
            out["feat_" + name] = hub(wav, dense=True)[0].numpy()
            out["feat_norm_" + name] = hub(torch.nn.functional.layer_norm(wav, wav.shape), dense=True)[0].numpy()
        units = tok.encode_units(wav)
        out["units_" + name] = np.array([int(u) for u in units["hubert"].split()], dtype=np.int64)
        strings[name] = tok.encode_string(wav)
    np.savez_compressed(sys.argv[4], **out)
    json.dump(strings, open(sys.argv[5], "w"))
''')


def main() -> None:
    sys.path.insert(0, str(HERE.parents[2] / "src"))
    from spiritlm.speech.random_checkpoints import write_hubert_checkpoints

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "official" / "ofhub").mkdir(parents=True)
    write_hubert_checkpoints(WORK / "ckpt", "tiny", seed=0)
    np.savez(WORK / "inputs.npz", **inputs())
    tree = WORK / "tree"
    tree.mkdir()
    subprocess.run(f"git -C {MIRROR} archive HEAD spiritlm/speech_tokenizer | tar -x -C {tree}", shell=True, check=True)
    src = tree / "spiritlm" / "speech_tokenizer"
    shutil.copytree(src / "hubert", WORK / "official" / "ofhub", dirs_exist_ok=True)
    (WORK / "official" / "ofhub" / "__init__.py").write_text("")
    shutil.copy(src / "spiritlm_tokenizer.py", WORK / "official" / "ofhub" / "spiritlm_tokenizer.py")
    (WORK / "runner.py").write_text(OFFICIAL_RUNNER)
    subprocess.run([sys.executable, str(WORK / "runner.py"), str(WORK / "official"),
                    str(WORK / "ckpt" / "speech_tokenizer"), str(WORK / "inputs.npz"),
                    str(HERE / "golden.npz"), str(HERE / "golden_strings.json")], check=True, cwd=WORK)
    print(json.dumps({k: v.shape for k, v in np.load(HERE / "golden.npz").items()}, default=str))


if __name__ == "__main__":
    main()
