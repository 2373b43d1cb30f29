"""Speech tokenization speed: seconds of audio tokenized per second of wall time (CPU, fp32).

The 95 M mHuBERT-base 25 Hz shape with random weights (official file formats) and a 500-unit linear
quantizer, on N files of 2-6 s. Three ways, in the same run:

* baseline: one file at a time, the way a plain `transformers` user would do it: every layer run
  (`output_hidden_states=True`), layer 11 taken, then the quantizer;
* ours, batch 1: `SpeechTokenizer.encode_units` per file (stops after layer 11);
* ours, batch 8: `SpeechTokenizer.encode_batch` (files padded into batches of similar length).

    .venv/bin/python benchmarks/speech_tokenize.py [--files 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from spiritlm.speech import hubert, quantizer
from spiritlm.speech.random_checkpoints import write_hubert_checkpoints
from spiritlm.speech.tokenizer import SpeechTokenizer


def make_files(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t = np.arange(int(rng.uniform(2, 6) * 16000)) / 16000
        f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
        wav = 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / 16000) + 0.02 * rng.standard_normal(len(t))
        out.append(wav.astype(np.float32))
    return out


def baseline(tok: SpeechTokenizer, hf_full, wavs) -> list[np.ndarray]:
    out = []
    with torch.inference_mode():
        for w in wavs:
            hidden = hf_full(torch.from_numpy(w)[None], output_hidden_states=True).hidden_states[11]
            out.append(tok.quantizer(hidden)[0].numpy())
    return out


def timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result); CPU time is less sensitive to a busy machine."""
    start, cpu = time.perf_counter(), time.process_time()
    res = fn()
    return time.perf_counter() - start, time.process_time() - cpu, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        files = write_hubert_checkpoints(d, "mhubert-base-25hz", vocab_size=500, seed=0, blank_bias=0.0)
        tok1 = SpeechTokenizer(hubert.load(files.hubert), quantizer.load(files.quantizer), batch_size=1)
        tok8 = SpeechTokenizer(tok1.hubert, tok1.quantizer, batch_size=8)
        full = hubert.load(files.hubert, layer=None)
    n_params = sum(p.numel() for p in full.parameters()) / 1e6
    wavs = make_files(args.files)
    audio_s = sum(len(w) for w in wavs) / 16000
    tok1.encode_units(wavs[0][:16000])  # warm-up
    baseline(tok1, full.model, [wavs[0][:16000]])
    t_base, c_base, ref = timed(lambda: baseline(tok1, full.model, wavs))
    t1, c1, res1 = timed(lambda: [tok1.encode_units(w) for w in wavs])
    t8, c8, res8 = timed(lambda: tok8.encode_batch(wavs))
    same = all(np.array_equal(a.hubert, b.units.hubert) for a, b in zip(res1, res8))
    agree = np.mean([np.mean(a.hubert == r) for a, r in zip(res1, ref)])
    print(f"HuBERT {n_params:.1f} M params (random weights), {len(wavs)} files, {audio_s:.1f} s of audio, "
          f"{torch.get_num_threads()} threads")
    print(f"{'method':<32}{'wall s':>8}{'audio s/s':>10}{'RTF':>7}{'speed-up':>9}{'CPU s':>8}{'CPU-RTF':>8}")
    rows = (("baseline (all layers, 1 file)", t_base, c_base), ("ours batch 1", t1, c1), ("ours batch 8", t8, c8))
    for name, t, c in rows:
        print(f"{name:<32}{t:>8.2f}{audio_s / t:>10.1f}{t / audio_s:>7.3f}{t_base / t:>8.2f}x{c:>8.1f}"
              f"{c / audio_s:>8.3f}")
    print("RTF = wall / audio; CPU-RTF = CPU seconds (all threads) / audio: on N idle cores RTF ~ CPU-RTF / N")
    print(f"batch 8 units == batch 1 units: {same}; agreement with the baseline: {agree:.4f}")


if __name__ == "__main__":
    main()
