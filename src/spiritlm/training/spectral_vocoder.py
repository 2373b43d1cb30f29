"""`spiritlm train spectral-vocoder`: the spectral head of `vocoder.spectral` on a trained unit HiFi-GAN.

    spiritlm train spectral-vocoder runs/vocoder/train.jsonl --init runs/vocoder/vocoder --out runs/spectral

Reads the same manifest as `spiritlm train vocoder` (audio + units [+ pitch, style] + speaker), starts
from that run's vocoder folder (its embeddings and duration predictor), and regresses log-magnitude
spectra with L1 on random segments; the embeddings are fine-tuned with the head, the duration
predictor is kept. Resumes from `state.pt`; writes the vocoder folder to `OUT/vocoder`.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, replace
from pathlib import Path

from .common import add_config_options, config_overrides, log_record, resume_state, save_state, torch_threads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpectralTrainConfig:
    manifest: str = ""
    init: str = ""  # a trained vocoder folder (`spiritlm train vocoder` writes OUT/vocoder)
    out_dir: str = "runs/spectral"
    steps: int = 3000
    batch_size: int = 16
    segment_frames: int = 50  # units per segment (2 s)
    lr: float = 1e-3
    log_every: int = 50
    checkpoint_every: int = 250
    seed: int = 0
    threads: int = 0

    @classmethod
    def preset(cls, name: str, **overrides) -> SpectralTrainConfig:
        presets = {"tiny": cls(steps=6, batch_size=2, segment_frames=8, log_every=2, checkpoint_every=3),
                   "mini": cls()}
        if name not in presets:
            raise ValueError(f"unknown spectral vocoder preset {name!r}; valid: {', '.join(sorted(presets))}")
        return replace(presets[name], **overrides)


class _Trainable:
    """The head plus the HiFi-GAN's embedding tables as one module (for the optimizer and the state file)."""

    def __init__(self, voc, head):
        import torch

        self.voc, self.head = voc, head
        self.module = torch.nn.ModuleDict({"head": head, "hifigan": voc.model})
        self.params = list(head.parameters()) + [p for n, p in voc.model.named_parameters() if "embed" in n]


def train_spectral(cfg: SpectralTrainConfig) -> dict:
    with torch_threads(cfg.threads):
        return _train(cfg)


def _train(cfg: SpectralTrainConfig) -> dict:
    import torch
    from tqdm import tqdm

    from ..vocoder.load import load_vocoder
    from ..vocoder.spectral import SpectralConfig, SpectralVocoder, build_head, log_magnitude, save_spectral
    from .vocoder import load_manifest, sample_batch

    if not cfg.init:
        raise ValueError("--init is required: the vocoder folder of a `spiritlm train vocoder` run")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    base = load_vocoder(cfg.init)
    spectral = SpectralConfig()
    head = build_head(base.model, spectral)
    voc = SpectralVocoder(base.model, head, spectral, base.speakers, base.styles, base.default_speaker,
                          base.default_style)
    model_cfg = base.config
    data = load_manifest(cfg.manifest, model_cfg)
    t = _Trainable(voc, head)
    opt = torch.optim.Adam(t.params, lr=cfg.lr)
    state_path = out / "state.pt"
    step, history, _ = resume_state(state_path, t.module, opt)
    rng = random.Random(cfg.seed * 1_000_003 + step)
    frames = cfg.segment_frames * model_cfg.hop_length // spectral.hop

    def save():
        save_state(state_path, t.module, opt, step, history)
        defaults = json.loads((Path(cfg.init) / "config.json").read_text()).get("defaults")
        save_spectral(out / "vocoder", voc, defaults)

    t.module.train()
    bar = tqdm(total=cfg.steps, initial=step, desc="spectral vocoder", disable=cfg.steps < 50)
    with open(out / "log.jsonl", "a") as log:
        while step < cfg.steps:
            wav, units, pitch, style, spk, sty, _ = sample_batch(data, rng, cfg.batch_size, cfg.segment_frames,
                                                                 model_cfg)
            cond = voc.model.conditioning(units, pitch, style, spk, sty)
            pred = head(cond)[..., :frames]
            target = log_magnitude(wav, spectral, frames)
            loss = torch.nn.functional.l1_loss(pred, target)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(t.params, 5.0)
            opt.step()
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                log_record(log, history, {"step": step, "l1": float(loss.detach())})
                bar.set_postfix(l1=f"{float(loss.detach()):.3f}")
            if step % cfg.checkpoint_every == 0:
                save()
    bar.close()
    t.module.eval()
    save()
    return {"steps": step, "final_l1": history[-1]["l1"] if history else None, "vocoder": str(out / "vocoder")}


def register(sub) -> None:
    p = sub.add_parser("spectral-vocoder", help="spectral head + Griffin-Lim on a trained unit vocoder (fast)")
    p.add_argument("manifest", help="the manifest `spiritlm train vocoder` read (audio, units, speaker)")
    p.add_argument("--init", required=True, help="that run's vocoder folder (OUT/vocoder)")
    p.add_argument("--out", required=True, help="run folder (state.pt, log.jsonl, vocoder/)")
    p.add_argument("--preset", default="mini", help="tiny or mini (default mini)")
    add_config_options(p, SpectralTrainConfig, ("manifest", "out_dir", "init"),
                       preset=SpectralTrainConfig.preset("mini"))

    def run(args) -> int:
        cfg = SpectralTrainConfig.preset(args.preset, manifest=args.manifest, init=args.init, out_dir=args.out,
                                         **config_overrides(args, SpectralTrainConfig, ("manifest", "out_dir", "init")))
        print(json.dumps(train_spectral(cfg)))
        return 0

    p.set_defaults(func=run)
