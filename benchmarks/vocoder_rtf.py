"""Real-time factor of the unit HiFi-GAN at official size (random weights), on this machine's CPU.

    .venv/bin/python benchmarks/vocoder_rtf.py [--preset base] [--seconds 4] [--repeats 2] [--threads 2]

Compares, in the same run and on the same weights:
* plain:     the official way of running it: weight norm still applied (recomputed on every call)
             and autograd recording the forward pass (the official vocoder only `.detach()`es);
* ours:      weight norm folded into the weights, `torch.inference_mode()` (`UnitVocoder.synthesize`);
* streaming: `UnitVocoder.stream` (first chunk 10 frames = 0.4 s, then 50 frames = 2 s), in both
             modes: "stateful" (each layer run incrementally, the default) and "context" (each chunk
             re-synthesized with 2 x receptive-field frames of context); reports the time to first audio.
RTF = compute seconds / audio seconds (below 1 = faster than real time). Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from spiritlm.units import SpeechUnits
from spiritlm.vocoder import CodeHiFiGAN, UnitVocoder, VocoderConfig
from spiritlm.vocoder.convert import fold_weight_norm
from spiritlm.vocoder.decode import plan_units
from spiritlm.vocoder.streaming import context_frames


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up (allocator, oneDNN primitives for these shapes)
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def plain_synthesis(model: CodeHiFiGAN, units: SpeechUnits, speaker: int, style: int | None) -> np.ndarray:
    """Baseline: weight-norm parametrized convs, autograd on, detach at the end (as the official code)."""
    plan = plan_units(units, model.cfg)
    one = torch.tensor([speaker]) if model.cfg.num_speakers else None
    sty = torch.tensor([style]) if model.cfg.num_styles else None
    ids = (lambda v: None if v is None else torch.as_tensor(v)[None])  # noqa: E731
    return model(ids(plan.units), ids(plan.pitch), ids(plan.style), one, sty).detach()[0].numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="base")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--chunk", type=int, default=50)
    ap.add_argument("--first-chunk", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = VocoderConfig.preset(args.preset)
    n = int(args.seconds * 25)
    rs = np.random.RandomState(0)
    units = SpeechUnits(rs.randint(0, cfg.num_embeddings, n),
                        rs.randint(0, cfg.num_f0_tokens, n // 2) if cfg.num_f0_tokens else None,
                        rs.randint(0, cfg.num_style_tokens, max(1, n // 25)) if cfg.num_style_tokens else None)
    audio_s = n * cfg.hop_length / cfg.sample_rate

    plain = CodeHiFiGAN(cfg).eval()
    plain.apply_weight_norm()
    ours = CodeHiFiGAN(cfg)
    ours.load_state_dict(fold_weight_norm(plain.state_dict()))  # the same weights, weight norm folded
    voc = UnitVocoder(ours, default_speaker=2, default_style=8 if cfg.num_styles else None)
    spk, sty = voc.speaker_index(), voc.style_index()

    ref = plain_synthesis(plain, units, spk, sty)
    fast = voc.synthesize(units)
    print(f"preset {args.preset}: {sum(p.numel() for p in ours.parameters()) / 1e6:.1f} M params, "
          f"{audio_s:.1f} s of audio, {args.threads} threads, context {context_frames(cfg)} frames/side")
    print(f"max |ours - plain| = {np.abs(fast - ref).max():.2e}")

    def stream(mode: str, first_only: bool = False) -> np.ndarray:
        pieces = []
        for piece in voc.stream(units, chunk_units=args.chunk, first_chunk_units=args.first_chunk, mode=mode):
            pieces.append(piece)
            if first_only:
                break
        return np.concatenate(pieces)

    rows = [("plain (official-style)", timed(lambda: plain_synthesis(plain, units, spk, sty), args.repeats)),
            ("ours offline", timed(lambda: voc.synthesize(units), args.repeats))]
    firsts = {}
    for mode in ("stateful", "context"):
        print(f"max |stream({mode}) - offline| = {np.abs(stream(mode) - fast).max():.2e}")
        rows.append((f"ours streaming, {mode}", timed(lambda m=mode: stream(m), args.repeats)))
        firsts[mode] = statistics.median(timed(lambda m=mode: stream(m, first_only=True), args.repeats))
    med = {name: statistics.median(ts) for name, ts in rows}
    print(f"{'path':<30}{'seconds':>9}{'RTF':>8}{'x real time':>13}")
    for name, t in med.items():
        print(f"{name:<30}{t:>9.3f}{t / audio_s:>8.3f}{audio_s / t:>13.1f}")
    t_plain, t_ours = med["plain (official-style)"], med["ours offline"]
    t_sf, t_ctx = med["ours streaming, stateful"], med["ours streaming, context"]
    print(f"speed-up offline ours/plain: {t_plain / t_ours:.2f}x; streaming cost vs offline: "
          f"stateful {t_sf / t_ours:.2f}x, context {t_ctx / t_ours:.2f}x")
    print(f"time to first audio ({args.first_chunk * 40} ms first chunk): stateful {firsts['stateful'] * 1000:.0f} "
          f"ms, context {firsts['context'] * 1000:.0f} ms; offline {t_ours * 1000:.0f} ms, "
          f"plain {t_plain * 1000:.0f} ms")


if __name__ == "__main__":
    main()
