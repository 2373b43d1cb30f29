"""Speed of the pitch and style tokenizers on CPU: seconds of audio tokenized per second of compute.

Random weights of the real sizes (F0 VQ-VAE "spirit" preset, 0.2 M parameters; wav2vec2-base style
encoder, 95 M parameters) on the official example utterance tiled to `--seconds`. Pitch is timed for
FCPE (the official extractor) against pYAAPT (the paper's extractor) as the baseline, measured in the
same run; the F0 and VQ-VAE stages are also timed apart. Usage::

    .venv/bin/python benchmarks/pitch_style_speed.py [--seconds 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from spiritlm.audio import load_audio
from spiritlm.speech.pitch import PitchConfig, PitchTokenizer
from spiritlm.speech.style import StyleTokenizer

AUDIO = Path(__file__).resolve().parents[2] / "shared" / "reference" / "audio" / "7143-88743-0029.flac"


def timed(fn, repeat: int = 2) -> float:
    fn()  # warm-up (model load, first-call costs)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wav = np.resize(load_audio(AUDIO), int(args.seconds * 16000)).astype(np.float32)
    dur = len(wav) / 16000

    torch.manual_seed(0)
    fcpe = PitchTokenizer(PitchConfig())
    yaapt = PitchTokenizer(PitchConfig(f0_method="pyaapt"), model=fcpe.model)
    contour = fcpe.extract_f0(wav)
    x = fcpe.features(contour)
    t_f0 = timed(lambda: fcpe.extract_f0(wav))
    t_vq = timed(lambda: fcpe.model.encode(x), repeat=5)
    t_fcpe = timed(lambda: fcpe.encode(wav))
    t_yaapt = timed(lambda: yaapt.encode(wav), repeat=1)

    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification

    style = StyleTokenizer(Wav2Vec2ForSequenceClassification(Wav2Vec2Config(num_labels=100)))
    t_style = timed(lambda: style.encode(wav), repeat=1)

    print(f"audio {dur:.1f} s, torch threads {args.threads}")
    print(f"pitch FCPE (F0 {t_f0:.3f} s + VQ-VAE {t_vq:.4f} s): {t_fcpe:.3f} s  -> {dur / t_fcpe:7.1f} s audio/s, "
          f"RTF {t_fcpe / dur:.4f}")
    print(f"pitch pYAAPT baseline:                  {t_yaapt:.3f} s  -> {dur / t_yaapt:7.1f} s audio/s, "
          f"RTF {t_yaapt / dur:.4f}")
    print(f"FCPE speed-up over pYAAPT: {t_yaapt / t_fcpe:.2f}x; VQ-VAE share of pitch time {t_vq / t_fcpe:.1%}")
    print(f"style wav2vec2-base (95 M):             {t_style:.3f} s  -> {dur / t_style:7.1f} s audio/s, "
          f"RTF {t_style / dur:.4f}")


if __name__ == "__main__":
    main()
