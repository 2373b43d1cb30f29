"""`spiritlm train phone-encoder`: the phone-supervised unit encoder of `speech.phone_encoder`.

    spiritlm train phone-encoder WORK/corpus/manifest.jsonl --out WORK/runs/phone-encoder --preset mini

Frame-level cross-entropy against the corpus's phone timings mapped onto one inventory
(`speech.phones`), on random crops of the train split, with the perturbations that make it hold on
voices it never heard: speed (0.9-1.1, which moves pitch and formants together, as Kaldi's speed
perturbation), additive noise (SNR 15-40 dB on half the crops) and level (x0.3-1.5). Every
`eval_every` steps it reports frame accuracy on the valid split's held-out voices. Resumes from
`OUT/state.pt`; the encoder folder is `OUT/encoder` (loadable by `speech.hubert.load`).
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .common import log_record, register_trainer, resume_state, save_state, torch_threads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhoneEncoderTrainConfig:
    manifest: str = ""
    out_dir: str = "runs/phone-encoder"
    model: str = "mini"  # PhoneEncoderConfig preset
    steps: int = 1500
    batch_size: int = 16
    crop_seconds: float = 4.0
    lr: float = 1e-3
    warmup: int = 100
    speed: float = 0.1  # speed factor drawn from [1 - speed, 1 + speed]
    noise_prob: float = 0.5
    eval_every: int = 250
    eval_files: int = 60
    log_every: int = 25
    checkpoint_every: int = 100
    seed: int = 0
    threads: int = 0

    @classmethod
    def preset(cls, name: str, **overrides) -> PhoneEncoderTrainConfig:
        presets = {"tiny": cls(model="tiny", steps=6, batch_size=2, crop_seconds=1.0, eval_every=3, eval_files=2,
                               log_every=2, checkpoint_every=3, warmup=2),
                   "mini": cls()}
        if name not in presets:
            raise ValueError(f"unknown phone encoder training preset {name!r}; valid: {', '.join(sorted(presets))}")
        return replace(presets[name], **overrides)


@dataclass(frozen=True)
class _Item:
    path: Path
    segs: list  # [(inventory phone, start s, end s)]


def load_items(manifest: str, split: str) -> list[_Item]:
    from ..speech.audio_list import read_manifest_entries
    from ..speech.phones import segments

    items = []
    for e in read_manifest_entries(manifest, split):
        rec = e.record or {}
        if rec.get("phonemes"):
            items.append(_Item(e.path, segments(rec.get("engine", "flite"), rec["phonemes"])))
    if not items:
        raise ValueError(f"{manifest} has no {split!r} utterances with phone timings")
    return items


def perturb(wav: np.ndarray, rng: random.Random, cfg: PhoneEncoderTrainConfig) -> tuple[np.ndarray, float]:
    """(perturbed wav, time scale of the manifest's times onto it)."""
    import soxr

    s = 1.0 + rng.uniform(-cfg.speed, cfg.speed) if cfg.speed > 0 else 1.0
    if abs(s - 1.0) > 1e-3:  # played back at 16 kHz, audio resampled to 16 kHz / s is s times faster
        wav = soxr.resample(wav, 16000, 16000 / s).astype(np.float32)
    wav = wav * rng.uniform(0.3, 1.5)
    if rng.random() < cfg.noise_prob:
        power = float(np.mean(wav ** 2)) + 1e-8
        snr = rng.uniform(15, 40)
        nrng = np.random.default_rng(rng.randrange(2**31))
        wav = wav + nrng.standard_normal(len(wav)).astype(np.float32) * math.sqrt(power / 10 ** (snr / 10))
    return wav.astype(np.float32), 1.0 / s


def make_batch(items: list[_Item], rng: random.Random, cfg: PhoneEncoderTrainConfig, hop: int, augment: bool = True):
    """-> (wav [B, S], lengths [B], targets [B, T] with -100 on padding)."""
    import torch

    from ..audio import load_audio
    from ..speech.phones import frame_targets

    crop = int(cfg.crop_seconds * 16000)
    wavs, tgts = [], []
    for it in (rng.choice(items) for _ in range(cfg.batch_size)):
        wav, scale = load_audio(it.path, target_sr=16000), 1.0
        if augment:
            wav, scale = perturb(wav, rng, cfg)
        start = rng.randint(0, max(0, len(wav) - crop)) // hop * hop if len(wav) > crop else 0
        wav = wav[start:start + crop]
        n = len(wav) // hop
        segs = [(p, a - start / 16000 / scale, b - start / 16000 / scale) for p, a, b in it.segs]
        wavs.append(wav[: n * hop])
        tgts.append(frame_targets(segs, n, hop / 16000, scale))
    lengths = torch.tensor([len(w) for w in wavs])
    batch = torch.zeros(len(wavs), int(lengths.max()))
    target = torch.full((len(wavs), int(lengths.max()) // hop), -100, dtype=torch.long)
    for i, (w, t) in enumerate(zip(wavs, tgts)):
        batch[i, : len(w)] = torch.from_numpy(w)
        target[i, : len(t)] = torch.from_numpy(t)
    return batch, lengths, target


def frame_accuracy(model, items: list[_Item], cfg: PhoneEncoderTrainConfig) -> float:
    """Frame phone accuracy over whole files (no perturbation, no crop)."""
    import torch

    from ..audio import load_audio
    from ..speech.phones import frame_targets

    right = total = 0
    model.eval()
    with torch.inference_mode():
        for it in items:
            wav = load_audio(it.path, target_sr=16000)
            logits, frames = model.logits(torch.from_numpy(wav))
            n = int(frames[0])
            tgt = torch.from_numpy(frame_targets(it.segs, n, model.hop / 16000))
            right += int((logits[0, :n].argmax(-1) == tgt).sum())
            total += n
    model.train()
    return right / max(1, total)


def train_phone_encoder(cfg: PhoneEncoderTrainConfig) -> dict:
    with torch_threads(cfg.threads):
        return _train(cfg)


def _train(cfg: PhoneEncoderTrainConfig) -> dict:
    import torch
    from tqdm import tqdm

    from ..speech.phone_encoder import PhoneEncoder, PhoneEncoderConfig

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model = PhoneEncoder(PhoneEncoderConfig.preset(cfg.model)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup)) * 0.5 * (
        1 + math.cos(math.pi * min(1.0, s / max(1, cfg.steps)))))
    step, history, _ = resume_state(out / "state.pt", model, opt)
    for _ in range(step):
        sched.step()
    train = load_items(cfg.manifest, "train")
    valid = load_items(cfg.manifest, "valid")
    vrng = random.Random(cfg.seed + 7)
    valid = vrng.sample(valid, min(cfg.eval_files, len(valid)))
    rng = random.Random(cfg.seed * 1_000_003 + step)

    def save():
        save_state(out / "state.pt", model, opt, step, history)
        model.save(out / "encoder")

    bar = tqdm(total=cfg.steps, initial=step, desc="phone encoder", disable=cfg.steps < 50)
    with open(out / "log.jsonl", "a") as log:
        while step < cfg.steps:
            wav, lengths, target = make_batch(train, rng, cfg, model.hop)
            logits, _ = model.logits(wav, lengths)
            t = min(logits.shape[1], target.shape[1])
            loss = torch.nn.functional.cross_entropy(logits[:, :t].reshape(-1, logits.shape[-1]),
                                                     target[:, :t].reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            rec = {"step": step, "loss": float(loss.detach())}
            if step % cfg.eval_every == 0 or step == cfg.steps:
                rec["valid_frame_acc"] = frame_accuracy(model, valid, cfg)
            if step % cfg.log_every == 0 or "valid_frame_acc" in rec:
                log_record(log, history, rec)
                log.flush()
                bar.set_postfix(loss=f"{rec['loss']:.3f}")
            if step % cfg.checkpoint_every == 0:
                save()
    bar.close()
    model.eval()
    save()
    accs = [h["valid_frame_acc"] for h in history if "valid_frame_acc" in h]
    return {"steps": step, "final_loss": history[-1]["loss"] if history else None,
            "valid_frame_acc": accs[-1] if accs else None, "encoder": str(out / "encoder")}


def register(sub) -> None:
    register_trainer(sub, "phone-encoder", "phone-supervised unit encoder (the mini models' [Hu] source)",
                     PhoneEncoderTrainConfig, train_phone_encoder, "corpus manifest.jsonl with phone timings",
                     "run folder (state.pt, log.jsonl, encoder/)")
