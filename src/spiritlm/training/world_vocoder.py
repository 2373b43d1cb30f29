"""`spiritlm train world-vocoder`: the WORLD-rendered regression vocoder of `vocoder.world`, from scratch.

    spiritlm train world-vocoder runs/vocoder-base/train.jsonl --out runs/world-base --model mini \\
        --speakers flite-slt,espeak-en-us-m1,...

Reads the vocoder manifest (audio + frame units [+ pitch, style] + speaker id), analyses each
utterance once with WORLD (cached in `OUT/features.pt`, with the standardisation statistics), then
trains the unit / pitch / style / speaker embeddings, the duration predictor and the WORLD head
together: mean-squared error on the standardised envelope, aperiodicity and log F0, binary
cross-entropy on voicing, and the duration predictor's log-duration loss on deduplicated units.
Resumes from `OUT/state.pt`; writes the vocoder folder to `OUT/vocoder`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .common import log_record, register_trainer, resume_state, save_state, torch_threads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorldTrainConfig:
    manifest: str = ""
    out_dir: str = "runs/world-vocoder"
    model: str = "mini"  # VocoderConfig preset (mini | mini_expressive | tiny | tiny_expressive)
    speakers: str = ""  # comma-separated names, one embedding row each
    steps: int = 2000
    batch_size: int = 16
    segment_frames: int = 50  # units per segment (2 s)
    max_utterances: int = 2000  # analysed with WORLD (the rest of the manifest is not used)
    lr: float = 1e-3
    loss: str = "mse"  # on the standardised envelope, aperiodicity and log F0: mse (the mean) or l1 (the median)
    gv_utterances: int = 200  # training utterances the global-variance ratios are fitted on at the end (0: none)
    rnn: int = 0  # the head's bidirectional GRU (WorldConfig.rnn; 0: convolutions only)
    lambda_dur: float = 1.0
    log_every: int = 50
    checkpoint_every: int = 250
    seed: int = 0
    threads: int = 0

    @classmethod
    def preset(cls, name: str, **overrides) -> WorldTrainConfig:
        presets = {"tiny": cls(model="tiny", steps=6, batch_size=2, segment_frames=8, max_utterances=4, log_every=2,
                               checkpoint_every=3),
                   "mini": cls()}
        if name not in presets:
            raise ValueError(f"unknown WORLD vocoder preset {name!r}; valid: {', '.join(sorted(presets))}")
        return replace(presets[name], **overrides)


def world_features(data, out: Path, sp_dims: int, up: int):
    """WORLD frames of every utterance ([4T, dims] each, cut or padded to its units) and their statistics."""
    import torch
    from tqdm import tqdm

    from ..vocoder.world import analyze

    path = out / "features.pt"
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        if len(saved["frames"]) == len(data):
            return saved["frames"], saved["mean"], saved["std"]
    frames = []
    for u in tqdm(data, desc="WORLD analysis", unit="utt", disable=len(data) < 20):
        f = analyze(u.wav, sp_dims)
        need = len(u.units) * up
        f = f[:need] if len(f) >= need else np.concatenate([f, np.repeat(f[-1:], need - len(f), 0)])
        frames.append(torch.from_numpy(f))
    cat = torch.cat(frames)
    mean, std = cat.mean(0), cat.std(0).clamp(min=1e-3)
    mean[-1], std[-1] = 0.0, 1.0  # voicing stays 0/1 (a logit is predicted for it)
    torch.save({"frames": frames, "mean": mean, "std": std}, path)
    return frames, mean, std


def sample(data, frames, rng: random.Random, batch_size: int, seg: int, up: int):
    """Random segments -> (units, pitch, style [B, seg] or None, frames [B, seg * up, D], utterances)."""
    import torch

    units, pitch, style, feats, utts = [], [], [], [], []
    for _ in range(batch_size):
        i = rng.randrange(len(data))
        u = data[i]
        n = len(u.units)
        idx = np.minimum(np.arange(seg) + rng.randint(0, max(0, n - seg)), n - 1)
        units.append(u.units[idx])
        pitch.append(None if u.pitch is None else u.pitch[idx])
        style.append(None if u.style is None else u.style[idx])
        fidx = (idx[:, None] * up + np.arange(up)[None]).reshape(-1)
        feats.append(frames[i][torch.as_tensor(fidx)])
        utts.append(u)

    def stack(cols):
        return None if cols[0] is None else torch.as_tensor(np.stack(cols))

    return stack(units), stack(pitch), stack(style), torch.stack(feats), utts


def train_world(cfg: WorldTrainConfig) -> dict:
    with torch_threads(cfg.threads):
        return _train(cfg)


def _train(cfg: WorldTrainConfig) -> dict:
    import torch
    from tqdm import tqdm

    from ..vocoder.config import VocoderConfig
    from ..vocoder.hifigan import CodeHiFiGAN
    from ..vocoder.world import WorldConfig, WorldVocoder, build_head, save_world
    from .vocoder import load_manifest, manifest_size, run_lengths

    if cfg.loss not in ("mse", "l1"):
        raise ValueError(f"unknown WORLD vocoder loss {cfg.loss!r}; valid: mse, l1")
    if cfg.rnn < 0:
        raise ValueError(f"rnn must be >= 0 (0: no GRU), got {cfg.rnn}")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    speakers = [s for s in cfg.speakers.split(",") if s]
    model_cfg = VocoderConfig.preset(cfg.model)
    if speakers and model_cfg.num_speakers:
        model_cfg = replace(model_cfg, num_speakers=len(speakers))
    n = manifest_size(cfg.manifest)  # the sampled utterances only are read (a 20 h manifest is ~4 GB of audio)
    data = load_manifest(cfg.manifest, model_cfg, random.Random(cfg.seed).sample(range(n), min(cfg.max_utterances, n)))
    model = CodeHiFiGAN(model_cfg)
    world0 = WorldConfig(rnn=cfg.rnn)
    up = model_cfg.hop_length // 160
    frames, mean, std = world_features(data, out, world0.sp_dims, up)
    world = replace(world0, mean=mean.tolist(), std=std.tolist())
    head = build_head(model, world)
    module = torch.nn.ModuleDict({"head": head, "units": model})
    params = list(head.parameters()) + [p for n, p in model.named_parameters() if not n.startswith("stack.")]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    step, history, _ = resume_state(out / "state.pt", module, opt)
    rng = random.Random(cfg.seed * 1_000_003 + step)
    voc = WorldVocoder(model, head, world, speakers or None, None, 0, 0)  # shares the modules being trained

    def save():
        save_state(out / "state.pt", module, opt, step, history)
        save_world(out / "vocoder", voc)

    def dur_loss(utts):
        if model.duration is None:
            return torch.zeros(())
        losses = []
        for u in utts:
            ded, dur = run_lengths(u.units)
            pred = model.log_durations(torch.as_tensor(ded)[None])[0]
            losses.append(torch.mean((pred - torch.log(torch.as_tensor(dur, dtype=torch.float32) + 1)) ** 2))
        return torch.stack(losses).mean()

    module.train()
    bar = tqdm(total=cfg.steps, initial=step, desc="WORLD vocoder", disable=cfg.steps < 50)
    with open(out / "log.jsonl", "a") as log:
        while step < cfg.steps:
            units, pitch, style, target, utts = sample(data, frames, rng, cfg.batch_size, cfg.segment_frames, up)
            spk = torch.tensor([u.speaker for u in utts]) if model_cfg.num_speakers else None
            sty = torch.tensor([u.style_id for u in utts]) if model_cfg.num_styles else None
            pred = head(model.conditioning(units, pitch, style, spk, sty)).transpose(1, 2)  # [B, F, D]
            z = (target - mean) / std
            err = (torch.nn.functional.mse_loss if cfg.loss == "mse" else torch.nn.functional.l1_loss)
            mse = err(pred[..., :-1], z[..., :-1])
            bce = torch.nn.functional.binary_cross_entropy_with_logits(pred[..., -1], target[..., -1])
            dur = dur_loss(utts)
            loss = mse + bce + cfg.lambda_dur * dur
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                rec = {"step": step, cfg.loss: float(mse.detach()), "voicing_bce": float(bce.detach()),
                       "dur": float(dur.detach())}
                log_record(log, history, rec)
                bar.set_postfix({cfg.loss: f"{rec[cfg.loss]:.3f}"})
            if step % cfg.checkpoint_every == 0:
                save()
    bar.close()
    module.eval()
    if cfg.gv_utterances and not voc.world.gv:
        voc.world = replace(voc.world, gv=fit_world_gv(voc, data, frames, cfg.gv_utterances, cfg.seed))
        logger.info("global-variance ratios (envelope, aperiodicity): %s", voc.world.gv)
    save()
    return {"steps": step, "final": history[-1] if history else None, "vocoder": str(out / "vocoder"),
            "gv": voc.world.gv}


def fit_world_gv(voc, data, frames, n: int, seed: int = 0) -> list[float]:
    """`vocoder.world.fit_gv` on `n` training utterances: real frames vs the frames the vocoder predicts from
    their units (true durations), for the envelope and aperiodicity columns."""
    import torch

    from ..vocoder.world import fit_gv

    voc.world = replace(voc.world, gv=[])
    pick = random.Random(seed).sample(range(len(data)), min(n, len(data)))
    pairs = []
    with torch.inference_mode():
        for i in pick:
            u = data[i]

            def col(x):
                return None if x is None else torch.as_tensor(x)[None]

            spk = torch.tensor([u.speaker]) if voc.model.cfg.num_speakers else None
            sty = torch.tensor([u.style_id]) if voc.model.cfg.num_styles else None
            cond = voc.model.conditioning(col(u.units), col(u.pitch), col(u.style), spk, sty)
            pairs.append((frames[i].numpy(), voc.predict_frames(cond)))
    return fit_gv(pairs, voc.world.sp_dims + 1)


def register(sub) -> None:
    register_trainer(sub, "world-vocoder", "units -> WORLD features regression, WORLD-rendered (trains in minutes)",
                     WorldTrainConfig, train_world,
                     "vocoder manifest: audio + frame units [+ pitch, style] + speaker id per line",
                     "run folder (features.pt, state.pt, log.jsonl, vocoder/)")
