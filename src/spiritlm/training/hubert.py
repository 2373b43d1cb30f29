"""Pretrain a small HuBERT with HuBERT's objective: `spiritlm train hubert`.

HuBERT learns to predict cluster ids of masked frames. Iteration 1 takes its targets from k-means
on MFCCs (`spiritlm train kmeans --features mfcc`); iteration 2 from k-means on the iteration-1
model's middle layer (`--features hubert --hubert <run>/hubert --layer 4`). One step::

    wav crops [B, T] -> conv -> projection -> spans of frames replaced by the mask embedding
      -> transformer -> final_proj [B, F, P] -> cosine with one embedding per cluster / 0.1
      -> cross-entropy against the cluster ids of the *masked* frames

Targets come from the k-means run's own feature description, so they are computed exactly as the
k-means was trained. `out/state.pt` (model, optimizer, step, RNG, history) makes the run resumable;
`out/hubert/` always holds the latest encoder (safetensors + config.json), loadable with
`spiritlm.speech.hubert.load` by path or by name under $SPIRITLM_CHECKPOINTS_DIR/speech_tokenizer/.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubertTrainConfig:
    manifest: str = ""
    kmeans: str = ""  # a k-means folder (config.json + model.safetensors) giving the targets
    out_dir: str = "runs/hubert"
    model: str = "mini"  # a HuBERT preset (spiritlm.speech.hubert_convert.HUBERT_PRESETS)
    steps: int = 2000
    batch_size: int = 8
    crop_seconds: float = 3.0
    lr: float = 5e-4
    warmup: int = 200
    mask_prob: float = 0.65  # fraction of frames that start a masked span (HuBERT-base: 0.8 at 50 Hz)
    mask_length: int = 5  # frames per span (10 at 50 Hz = 5 at 25 Hz)
    final_dim: int = 64
    logit_temp: float = 0.1
    grad_clip: float = 5.0
    split: str = "train"
    log_every: int = 25
    checkpoint_every: int = 200
    seed: int = 0

    @classmethod
    def preset(cls, name: str, **overrides) -> HubertTrainConfig:
        presets = {"tiny": cls(model="tiny", steps=4, batch_size=2, crop_seconds=0.64, warmup=2, final_dim=16,
                               log_every=1, checkpoint_every=2),
                   "mini": cls()}
        if name not in presets:
            raise ValueError(f"unknown HuBERT training preset {name!r}; valid: {', '.join(sorted(presets))}")
        return replace(presets[name], **overrides)


class HubertPretrainModel(nn.Module):
    """Encoder + HuBERT's prediction head (projection, one embedding per cluster)."""

    def __init__(self, spec, n_clusters: int, final_dim: int, logit_temp: float) -> None:
        super().__init__()
        from ..speech.hubert import HubertFeatures

        self.encoder = HubertFeatures(spec, layer=None)
        self.final_proj = nn.Linear(spec.embed_dim, final_dim)
        self.label_embs = nn.Parameter(torch.randn(n_clusters, final_dim) * 0.1)
        self.logit_temp = logit_temp

    def forward(self, wav, lengths, mask) -> tuple[torch.Tensor, torch.Tensor]:
        x, frames = self.encoder(wav, lengths, mask)  # [B, F, D]
        p = nn.functional.normalize(self.final_proj(x), dim=-1)  # [B, F, P]
        e = nn.functional.normalize(self.label_embs, dim=-1)  # [K, P]
        return p @ e.T / self.logit_temp, frames  # [B, F, K]


def span_mask(frames: torch.Tensor, n_max: int, prob: float, length: int, g: torch.Generator) -> torch.Tensor:
    """[B, n_max] bool: per row, round(prob * n / length) spans of `length` frames (at least one)."""
    mask = torch.zeros(len(frames), n_max, dtype=torch.bool)
    for b, n in enumerate(frames.tolist()):
        if n <= 0:
            continue
        n_spans = max(1, round(prob * n / length))
        starts = torch.randint(0, max(1, n - length + 1), (n_spans,), generator=g)
        for s in starts.tolist():
            mask[b, s:min(n, s + length)] = True
    return mask


def load_targets(cfg: HubertTrainConfig, spec) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """(waveforms, per-frame cluster ids, n_clusters) of the manifest, targets made as the k-means was."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..speech import quantizer
    from ..speech.audio_list import read_manifest_entries
    from .kmeans import feature_source

    kdir = Path(cfg.kmeans)
    meta = json.loads((kdir / "config.json").read_text())
    km = quantizer.load(kdir)
    feats, hop = feature_source(meta)
    if hop != spec.hop:
        raise ValueError(f"the k-means features have hop {hop} but the HuBERT '{cfg.model}' has hop {spec.hop}")
    wavs, targets = [], []
    for e in tqdm(read_manifest_entries(cfg.manifest, cfg.split), desc="HuBERT targets", unit="file"):
        wav = load_audio(e.path)
        if spec.num_frames(len(wav)) < 2:
            continue
        t = km(feats(wav)[None])[0].numpy()
        n = spec.num_frames(len(wav))
        targets.append(np.pad(t, (0, max(0, n - len(t))), mode="edge")[:n])
        wavs.append(wav)
    if not wavs:
        raise ValueError(f"no usable audio in {cfg.manifest}")
    return wavs, targets, km.n_units


def make_batch(wavs, targets, spec, cfg: HubertTrainConfig, g: torch.Generator):
    crop = int(cfg.crop_seconds * spec.sample_rate) // spec.hop * spec.hop
    idx = torch.randint(len(wavs), (cfg.batch_size,), generator=g).tolist()
    pieces, tgts = [], []
    for i in idx:
        wav, tgt = wavs[i], targets[i]
        start_frame = 0
        if len(wav) > crop:
            start_frame = int(torch.randint(0, (len(wav) - crop) // spec.hop + 1, (1,), generator=g))
        piece = wav[start_frame * spec.hop:start_frame * spec.hop + crop]
        pieces.append(piece)
        tgts.append(tgt[start_frame:start_frame + spec.num_frames(len(piece))])
    lengths = torch.tensor([len(p) for p in pieces])
    batch = torch.zeros(len(pieces), int(lengths.max()))
    for b, p in enumerate(pieces):
        batch[b, :len(p)] = torch.from_numpy(p)
    n_max = spec.num_frames(int(lengths.max()))
    target = torch.full((len(pieces), n_max), -100, dtype=torch.long)
    for b, t in enumerate(tgts):
        target[b, :len(t)] = torch.from_numpy(t)
    return batch, lengths, target


@dataclass(frozen=True)
class HubertTrainResult:
    out_dir: Path
    steps: int
    history: list


def _lr(cfg: HubertTrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cfg.lr * max(0.05, 1 - (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))


def train_hubert(cfg: HubertTrainConfig) -> HubertTrainResult:
    from tqdm import tqdm

    from ..speech.hubert_convert import hubert_preset

    spec = hubert_preset(cfg.model)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wavs, targets, k = load_targets(cfg, spec)
    torch.manual_seed(cfg.seed)
    model = HubertPretrainModel(spec, k, cfg.final_dim, cfg.logit_temp)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(cfg.seed)
    start, history = 0, []
    state_path = out / "state.pt"
    if state_path.is_file():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        g.set_state(st["rng"])
        start, history = int(st["step"]), [dict(h) for h in st["history"]]
        logger.info("resuming HuBERT training at step %d", start)
    model.train()
    bar = tqdm(range(start, cfg.steps), desc="HuBERT", unit="step", initial=start, total=cfg.steps)
    for step in bar:
        wav, lengths, target = make_batch(wavs, targets, spec, cfg, g)
        frames = torch.tensor([spec.num_frames(int(n)) for n in lengths])
        mask = span_mask(frames, target.shape[1], cfg.mask_prob, cfg.mask_length, g)
        logits, _ = model(wav, lengths, mask)
        use = mask & (target >= 0)
        loss = nn.functional.cross_entropy(logits[use], target[use])
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        acc = float((logits[use].argmax(-1) == target[use]).float().mean())
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            history.append({"step": step + 1, "loss": float(loss.detach()), "masked_acc": acc})
            with open(out / "log.jsonl", "a") as f:
                f.write(json.dumps(history[-1]) + "\n")
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", acc=f"{acc:.2f}")
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            _checkpoint(model, opt, g, step + 1, history, out)
    model.eval()
    return HubertTrainResult(out, max(start, cfg.steps), history)


def _checkpoint(model, opt, g, step: int, history: list, out: Path) -> None:
    tmp = out / "state.tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": g.get_state(), "step": step,
                "history": history}, tmp)
    os.replace(tmp, out / "state.pt")
    model.encoder.save(out / "hubert")


def register(sub) -> None:
    p = sub.add_parser("hubert", help="pretrain a small HuBERT (masked prediction of k-means targets)")
    p.add_argument("manifest", help="JSON lines with 'audio' (the corpus manifest works)")
    p.add_argument("--kmeans", required=True, help="k-means folder for the targets (from `spiritlm train kmeans`)")
    p.add_argument("--out", required=True, help="run folder (state.pt, log.jsonl, hubert/)")
    p.add_argument("--preset", default="mini", help="tiny or mini (default mini)")
    types = {"int": int, "float": float, "str": str}
    for f in fields(HubertTrainConfig):
        if f.name not in ("manifest", "out_dir", "kmeans") and f.type in types:
            p.add_argument("--" + f.name.replace("_", "-"), type=types[f.type], dest=f.name)
    p.set_defaults(func=_run)


def _run(args) -> int:
    names = {f.name for f in fields(HubertTrainConfig)} - {"manifest", "out_dir", "kmeans"}
    overrides = {k: v for k, v in vars(args).items() if k in names and v is not None}
    cfg = HubertTrainConfig.preset(args.preset, manifest=args.manifest, kmeans=args.kmeans, out_dir=args.out,
                                   **overrides)
    res = train_hubert(cfg)
    last = res.history[-1] if res.history else {}
    print(f"HuBERT: {res.steps} steps, loss {last.get('loss', math.nan):.3f}, masked accuracy "
          f"{last.get('masked_acc', math.nan):.2f}; encoder in {res.out_dir / 'hubert'}")
    return 0

