"""Train the F0 VQ-VAE of the pitch tokenizer: `spiritlm train vqvae`.

Data: JSON lines with an `audio` path (absolute or relative to the manifest's folder) and an optional
`speaker`; the corpus manifest (`spiritlm.data.corpus.manifest`) has both, other fields are ignored::

    {"audio": "wav/s000042/s000042-espeak-en-us-f3-happy.wav", "speaker": "espeak-en-us-f3", ...}

1. Every file's F0 contour is extracted once (FCPE or pYAAPT, 200 Hz) and cached in `out_dir/f0.npz`.
   With ``speaker_norm`` the per-speaker mean F0 over voiced frames is stored in the model config.
2. The VQ-VAE input is exactly what the tokenizer feeds it (`PitchTokenizer.features`).
3. Each step takes random segments of `segment_frames` frames and minimises
   ``(MSE(f̂0, f0) + vuv_weight · MSE(v̂uv, vuv)) / 2 + commit_weight · ‖sg(z_q) − z‖²`` on the
   official inputs (F0 in Hz, voicing 0/1; raise `vuv_weight` to make voicing count more). The
   encoder gets gradients through the straight-through estimator; the codebook is **not** learned
   by gradient but as an exponential moving average of the latents assigned to each code (decay
   ``vq.mu``, jukebox style), and a code used less than once (EMA count < 1) is restarted on a
   random latent of the batch.

`out_dir/state.pt` (model, optimizer, codebook EMA, step, RNG) is written every `checkpoint_every`
steps and at the end, so a run resumes where it stopped; `out_dir/pitch/` always holds the latest
tokenizer (safetensors + config.json) for `speech.pitch.load`. Losses go to `out_dir/log.jsonl`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .common import (
    add_config_options,
    config_overrides,
    log_record,
    resume_state,
    save_state,
    torch_threads,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VQVAETrainConfig:
    manifest: str = ""
    out_dir: str = "runs/pitch_vqvae"
    model: str = "spirit"  # a VQVAEConfig preset
    features: str = "norm_f0_interp,vuv"
    f0_method: str = "fcpe"
    speaker_norm: bool = False
    steps: int = 1500
    batch_size: int = 16
    segment_frames: int = 256  # 1.28 s at 200 Hz; a multiple of the VQ-VAE hop (16)
    lr: float = 1e-3
    commit_weight: float = 0.02
    vuv_weight: float = 1.0
    grad_clip: float = 1.0
    log_every: int = 25
    checkpoint_every: int = 250
    seed: int = 0
    threads: int = 0  # torch intra-op threads for this run (0: leave as is); 1 is fastest for tiny models
    max_files: int = 0  # utterances trained on, evenly spaced over the manifest (0 = all; F0 extraction dominates)

    @classmethod
    def preset(cls, name: str, **overrides) -> VQVAETrainConfig:
        presets = {"tiny": cls(model="tiny", threads=1,
                               steps=40, batch_size=4, segment_frames=64, lr=3e-3, log_every=5,
                               checkpoint_every=20),
                   # voicing weighted up: on a 41-min TTS corpus, 600 steps gave 37.5 cents median F0 error and
                   # 0.957 voicing accuracy held out (weight 1: 20.8 cents but 0.59 voicing accuracy)
                   "mini": cls(vuv_weight=1000.0)}
        if name not in presets:
            raise ValueError(f"unknown vqvae training preset {name!r}; valid: {', '.join(sorted(presets))}")
        return replace(presets[name], **overrides)


@dataclass(frozen=True)
class TrainResult:
    steps: int
    history: list[dict]
    out_dir: Path


def read_audio_manifest(path: str | os.PathLike, label_key: str | None = None) -> list[dict]:
    """JSON lines -> [{"audio": absolute path, "speaker": str | None, [label_key]: str}], in file order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    rows, lines = [], path.read_text().splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines):  # a torn last line from an interrupted writer
                logger.warning("ignoring a torn last line of %s", path)
                break
            raise ValueError(f"{path}:{i}: not JSON ({e})") from e
        audio = rec.get("audio") or rec.get("path") or rec.get("audio_path")
        if not audio:
            raise ValueError(f"{path}:{i}: no 'audio' path; keys are {sorted(rec)}")
        row = {"audio": str((path.parent / audio) if not os.path.isabs(audio) else Path(audio)),
               "speaker": None if rec.get("speaker") is None else str(rec["speaker"])}
        if label_key is not None:
            if rec.get(label_key) is None:
                raise ValueError(f"{path}:{i}: no {label_key!r} label; keys are {sorted(rec)}")
            row[label_key] = str(rec[label_key])
        rows.append(row)
    if not rows:
        raise ValueError(f"manifest {path} has no utterances")
    return rows


def _contours(rows: list[dict], cfg: VQVAETrainConfig, out: Path):
    """F0 of every file, cached in out/f0.npz (keyed by method, interpolation and audio path)."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..speech.f0 import F0Contour, load_f0_extractor

    cache = out / "f0.npz"
    stored = dict(np.load(cache, allow_pickle=False)) if cache.is_file() else {}
    interpolate = "_interp" in cfg.features  # as `PitchConfig.preset` sets it for the trained tokenizer
    extractor = load_f0_extractor(cfg.f0_method, interpolate=interpolate)
    result = []
    for row in tqdm(rows, desc=f"F0 ({cfg.f0_method})", disable=len(rows) < 20):
        key = f"{cfg.f0_method}|{'interp' if interpolate else 'raw'}|{row['audio']}"
        if key + "|f0" not in stored:
            c = extractor.extract(load_audio(row["audio"]))
            stored[key + "|f0"], stored[key + "|vuv"] = c.f0, c.vuv
        result.append(F0Contour(f0=stored[key + "|f0"], vuv=stored[key + "|vuv"]))
    np.savez(cache, **stored)
    return result


def speaker_means(rows: list[dict], contours) -> dict[str, float]:
    """Mean F0 over the voiced frames of each speaker's files."""
    sums: dict[str, list[float]] = {}
    for row, c in zip(rows, contours):
        if row["speaker"] is not None and (c.vuv > 0).any():
            acc = sums.setdefault(row["speaker"], [0.0, 0.0])
            acc[0] += float(c.f0[c.vuv > 0].sum())
            acc[1] += float((c.vuv > 0).sum())
    return {spk: s / n for spk, (s, n) in sums.items()}


class CodebookEMA:
    """Exponential moving averages of code usage and of the latents assigned to each code."""

    def __init__(self, k, mu: float) -> None:
        import torch

        self.mu = mu
        self.k_sum = k.detach().clone()
        self.k_elem = torch.ones(k.shape[0])

    def update(self, k, flat, codes, gen) -> float:
        """k [K, D] (updated in place), flat [N, D] latents, codes [N]; returns the fraction of codes in use."""
        import torch

        with torch.no_grad():
            onehot = torch.zeros(k.shape[0], flat.shape[0])
            onehot.scatter_(0, codes.view(1, -1), 1.0)
            self.k_sum = self.mu * self.k_sum + (1 - self.mu) * (onehot @ flat)
            self.k_elem = self.mu * self.k_elem + (1 - self.mu) * onehot.sum(dim=1)
            used = (self.k_elem >= 1.0).float().view(-1, 1)
            restart = flat[torch.randint(flat.shape[0], (k.shape[0],), generator=gen)]
            k.copy_(used * self.k_sum / self.k_elem.clamp(min=1e-6).view(-1, 1) + (1 - used) * restart)
            return float(used.mean())

    def state_dict(self) -> dict:
        return {"k_sum": self.k_sum, "k_elem": self.k_elem}

    def load_state_dict(self, d: dict) -> None:
        self.k_sum, self.k_elem = d["k_sum"], d["k_elem"]


def _batch(features, cfg: VQVAETrainConfig, rng: np.random.Generator):
    import torch

    seg = cfg.segment_frames
    rows = []
    for i in rng.integers(0, len(features), cfg.batch_size):
        x = features[i]  # [2, T]
        if x.shape[-1] < seg:
            x = torch.nn.functional.pad(x, (0, seg - x.shape[-1]))
        start = int(rng.integers(0, x.shape[-1] - seg + 1))
        rows.append(x[:, start:start + seg])
    return torch.stack(rows)  # [B, 2, seg]


def _recon_loss(x_hat, x, weights):
    """Per-channel MSE times the channel weights, averaged over channels."""
    return ((x_hat - x) ** 2).mean(dim=(0, 2)).mul(weights).mean()


def train_vqvae(cfg: VQVAETrainConfig) -> TrainResult:
    """Train (or resume) as the module docstring says; returns the final step and the logged history."""
    with torch_threads(cfg.threads):
        return _train_vqvae(cfg)


def _train_vqvae(cfg: VQVAETrainConfig) -> TrainResult:
    import torch
    from tqdm import tqdm

    from ..speech.pitch import PitchConfig, PitchTokenizer

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = read_audio_manifest(cfg.manifest)
    if cfg.max_files < 0:
        raise ValueError(f"max_files must be >= 0 (0 = every file), got {cfg.max_files}")
    if 0 < cfg.max_files < len(rows):
        rows = [rows[i * len(rows) // cfg.max_files] for i in range(cfg.max_files)]
    contours = _contours(rows, cfg, out)
    stats = speaker_means(rows, contours) if cfg.speaker_norm else {}
    pcfg = PitchConfig.preset(cfg.model, features=cfg.features, f0_method=cfg.f0_method,
                              speaker_norm=cfg.speaker_norm, speaker_stats=stats)
    if cfg.segment_frames % pcfg.vqvae.hop:
        raise ValueError(f"segment_frames {cfg.segment_frames} must be a multiple of the VQ-VAE hop {pcfg.vqvae.hop}")
    torch.manual_seed(cfg.seed)
    tok = PitchTokenizer(pcfg)
    features = [tok.features(c, row["speaker"])[0] for c, row in zip(contours, rows)]  # each [2, T]
    model = tok.model.train()
    scale = torch.tensor([1.0, cfg.vuv_weight])  # loss weight of [f0, vuv]
    codebook = model.vq.level_blocks[0].k
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    ema = None
    state_path = out / "state.pt"
    step, history, state = resume_state(state_path, model, opt)
    if state is not None:
        ema = CodebookEMA(codebook, pcfg.vqvae.vq.mu)
        ema.load_state_dict(state["ema"])
        gen.set_state(state["gen"])
        rng = np.random.default_rng([cfg.seed, step])

    def save() -> None:
        save_state(state_path, model, opt, step, history, ema=ema.state_dict(), gen=gen.get_state())
        tok.save(out / "pitch")

    fixed = _batch(features, replace(cfg, batch_size=max(8, cfg.batch_size)), np.random.default_rng(cfg.seed + 1))
    bar = tqdm(total=cfg.steps, initial=step, desc="vqvae", disable=cfg.steps < 50)
    with open(out / "log.jsonl", "a") as log:
        while step < cfg.steps:
            x = _batch(features, cfg, rng)  # [B, 2, seg]
            if ema is None:  # first step: the codebook starts on random latents of the data
                with torch.no_grad():
                    flat = model.vq.level_blocks[0].flatten(model.encoder(x, levels=1)[0])
                    codebook.copy_(flat[torch.randint(flat.shape[0], (codebook.shape[0],), generator=gen)])
                ema = CodebookEMA(codebook, pcfg.vqvae.vq.mu)
            res = model(x)
            recon = _recon_loss(res.reconstruction, x, scale)
            loss = recon + cfg.commit_weight * res.commit_loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            flat = model.vq.level_blocks[0].flatten(res.latents[0].detach())
            usage = ema.update(codebook, flat, res.codes[0].reshape(-1), gen)
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                with torch.no_grad():
                    held = _recon_loss(model(fixed).reconstruction, fixed, scale)
                rec = {"step": step, "loss": float(loss.detach()), "recon": float(recon.detach()),
                       "commit": float(res.commit_loss.detach()), "usage": usage, "eval_recon": float(held)}
                log_record(log, history, rec)
                bar.set_postfix(recon=f"{float(held):.3f}", usage=f"{usage:.2f}")
            if step % cfg.checkpoint_every == 0:
                save()
    bar.close()
    model.eval()
    save()
    return TrainResult(steps=step, history=history, out_dir=out)


@dataclass(frozen=True)
class PitchEval:
    """How well pitch codes keep the F0 contour (VQ-VAE decoder output vs the extracted contour)."""

    f0_error_cents: float  # median |1200 log2(f0_rec / f0)| over frames voiced in input and output
    vuv_accuracy: float  # fraction of frames whose voicing (decoded vuv > 0.5) is right
    codes_used: int
    code_perplexity: float  # exp(entropy) of the code histogram


def evaluate_pitch(tok, contours, speakers=None) -> PitchEval:
    """Encode each contour, decode the codes, and compare with the input (normalisation undone)."""
    import torch

    errors, right, total, counts = [], 0, 0, np.zeros(tok.config.vqvae.vq.l_bins)
    for c, spk in zip(contours, speakers or [None] * len(contours)):
        x = tok.features(c, spk)  # [1, 2, T]
        codes = tok.model.encode(x)  # [1, T']
        if codes.shape[1] == 0:
            continue
        rec = tok.model.decode(codes)[0].numpy()  # [2, T' * hop]
        n = rec.shape[1]
        f0, vuv = c.f0[:n].astype(np.float64), c.vuv[:n]
        offset = f0 - x[0, 0, :n].numpy()  # the mean that `features` subtracted (0 without normalisation)
        f0_rec = rec[0] + offset
        both = (vuv > 0) & (rec[1] > 0.5) & (f0_rec > 0) & (f0 > 0)
        errors.append(np.abs(1200 * np.log2(f0_rec[both] / f0[both])))
        right += int(((rec[1] > 0.5) == (vuv > 0)).sum())
        total += n
        counts += np.bincount(codes[0].numpy(), minlength=len(counts))
    p = counts / max(counts.sum(), 1)
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum())
    err = np.concatenate(errors) if errors else np.zeros(0)
    return PitchEval(f0_error_cents=float(np.median(err)) if err.size else float("nan"),
                     vuv_accuracy=right / max(total, 1), codes_used=int((counts > 0).sum()),
                     code_perplexity=float(torch.tensor(entropy).exp()))


def register(sub) -> None:
    p = sub.add_parser("vqvae", help="train the F0 VQ-VAE of the pitch tokenizer on the audio of a manifest")
    p.add_argument("manifest", help="JSON lines: {'audio': path, ['speaker': name]} (the corpus manifest works)")
    p.add_argument("--out", required=True, help="run folder (state.pt, log.jsonl, f0.npz, pitch/)")
    p.add_argument("--preset", default="mini", help="training preset: tiny or mini (default mini)")
    add_config_options(p, VQVAETrainConfig, ("manifest", "out_dir"), preset=VQVAETrainConfig.preset("mini"))
    p.add_argument("--speaker-norm", action="store_true", default=None, help="normalise F0 by speaker means")
    p.add_argument("--valid", help="a held-out manifest to report F0 error, voicing accuracy and code use on")
    p.set_defaults(func=_run)


def _run(args) -> int:
    overrides = config_overrides(args, VQVAETrainConfig, ("manifest", "out_dir"))
    cfg = VQVAETrainConfig.preset(args.preset, manifest=args.manifest, out_dir=args.out, **overrides)
    result = train_vqvae(cfg)
    first, last = (result.history[0], result.history[-1]) if result.history else ({}, {})
    print(f"trained F0 VQ-VAE to step {result.steps}; fixed-batch recon {first.get('eval_recon', float('nan')):.4f} -> "
          f"{last.get('eval_recon', float('nan')):.4f}; tokenizer in {result.out_dir / 'pitch'}")
    if args.valid:
        from ..speech import pitch

        tok = pitch.load(result.out_dir / "pitch")
        rows = read_audio_manifest(args.valid)
        m = evaluate_pitch(tok, _contours(rows, cfg, result.out_dir), [r["speaker"] for r in rows])
        print(f"held-out ({len(rows)} files): median F0 error {m.f0_error_cents:.1f} cents, voicing accuracy "
              f"{m.vuv_accuracy:.3f}, {m.codes_used}/{tok.config.vqvae.vq.l_bins} codes used, "
              f"perplexity {m.code_perplexity:.1f}")
    return 0
