"""Train a unit HiFi-GAN on (audio, units) pairs: `spiritlm train vocoder`.

Data: a manifest of JSON lines, each the official `encode_units` result of one file, e.g.::

    {"audio": "/data/a.wav", "hubert": "99 49 49 38 ...", "pitch": "39 39 48 ...", "style": "71 ...",
     "speaker": 0}

(`pitch`/`style` for Expressive; `speaker` and `style_id` optional, default 0). Any `SpeechEncoder`
can make the units. Raw pitch/style are repeated to the unit rate by the vocoder's rule.

Each step draws random segments of `segment_frames` units and the matching audio, then
1. updates the MPD+MSD discriminators (least squares, real -> 1, fake -> 0);
2. updates the generator with adversarial + 2 x feature matching + 45 x L1 log-mel losses, plus the
   duration loss: MSE between predicted log(duration + 1) and the run lengths of the deduplicated
   units of the whole utterance.
Checkpoints (`out_dir/state.pt`, every `checkpoint_every` steps and at the end) hold both models
and optimizers, so a run resumes where it stopped; `out_dir/vocoder/` always holds the latest
generator in our inference format (`load_vocoder` reads it). Losses go to `out_dir/log.jsonl`,
audio samples to `out_dir/samples/step_N.wav`.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VocoderTrainConfig:
    manifest: str = ""
    out_dir: str = "runs/vocoder"
    model: str = "mini"  # a VocoderConfig preset
    discriminator: str = "mini"  # a DiscriminatorConfig preset
    steps: int = 1000
    batch_size: int = 4
    segment_frames: int = 16  # 16 x 640 samples = 0.64 s
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    lr_decay: float = 0.9999  # per step
    lambda_mel: float = 45.0
    lambda_fm: float = 2.0
    lambda_dur: float = 1.0
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 200
    seed: int = 0
    num_threads: int = 0  # torch CPU threads during training; 0 = leave torch's setting
    speakers: tuple[str, ...] = field(default_factory=tuple)  # names for speakers.txt

    @classmethod
    def preset(cls, name: str, **overrides) -> VocoderTrainConfig:
        presets = {
            "tiny": cls(model="tiny", discriminator="tiny", steps=20, batch_size=2, segment_frames=8, lr=2e-3,
                        log_every=5, sample_every=10, checkpoint_every=10, num_threads=1),
            "mini": cls(),
            "official": cls(model="base", discriminator="official", batch_size=16, segment_frames=14),
        }
        if name not in presets:
            raise ValueError(f"unknown vocoder training preset {name!r}; valid: {', '.join(presets)}")
        known = {f.name for f in fields(cls)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ValueError(f"unknown vocoder training options {bad}; valid: {sorted(known)}")
        return replace(presets[name], **overrides)


@dataclass(frozen=True)
class Utterance:
    wav: np.ndarray  # [T * 640] float32
    units: np.ndarray  # [T] int64, one per frame
    pitch: np.ndarray | None  # [T] or None
    style: np.ndarray | None  # [T] or None
    speaker: int
    style_id: int


@dataclass
class TrainResult:
    steps: int
    out_dir: Path
    history: list[dict] = field(default_factory=list)  # one record per logged step


def manifest_size(path: str | os.PathLike) -> int:
    """Entries (non-empty lines) of a vocoder manifest."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"vocoder manifest {path} does not exist")
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def load_manifest(path: str | os.PathLike, cfg, only: list[int] | None = None) -> list[Utterance]:
    """Manifest lines -> frame-aligned utterances for a vocoder config `cfg`; `only`: these entries (indices
    among the non-empty lines), in this order, and no audio read for the others."""
    from ..audio import load_audio
    from ..units import SpeechUnits
    from ..vocoder.decode import plan_units

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"vocoder manifest {path} does not exist")
    entries = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    if only is not None:
        entries = [entries[i] for i in only]
    out = []
    for n, line in entries:
        rec = json.loads(line)
        if "audio" not in rec or "hubert" not in rec:
            raise ValueError(f"{path}:{n}: a manifest line needs 'audio' and 'hubert'; got keys {sorted(rec)}")
        audio = Path(rec["audio"]) if Path(rec["audio"]).is_absolute() else path.parent / rec["audio"]
        units = SpeechUnits.from_official_dict({k: rec[k] for k in ("hubert", "pitch", "style") if k in rec})
        plan = plan_units(units, cfg)
        hop = cfg.hop_length
        wav = load_audio(audio)[: len(plan.units) * hop]
        wav = np.pad(wav, (0, len(plan.units) * hop - len(wav)))
        out.append(Utterance(wav.astype(np.float32), plan.units, plan.pitch, plan.style,
                             int(rec.get("speaker", 0)), int(rec.get("style_id", 0))))
    if not out:
        raise ValueError(f"vocoder manifest {path} has no entries")
    return out


def run_lengths(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[3, 3, 5, 5, 5, 2] -> (units [3, 5, 2], durations [2, 3, 1])."""
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]])
    return units[starts], np.diff(np.r_[starts, len(units)])


def sample_batch(data: list[Utterance], rng: random.Random, batch_size: int, seg: int, model_cfg):
    """`batch_size` random segments of `seg` unit frames (one utterance each, repeating its last frame when it
    is shorter) -> (wav [B, seg * hop], units, pitch, style [B, seg] or None, speaker ids, style ids, utterances)."""
    import torch

    hop = model_cfg.hop_length
    utts = [rng.choice(data) for _ in range(batch_size)]
    cols: dict[str, list] = {"wav": [], "units": [], "pitch": [], "style": []}
    for u in utts:
        n = len(u.units)
        idx = np.minimum(np.arange(seg) + rng.randint(0, max(0, n - seg)), n - 1)
        start = int(idx[0])
        wav = u.wav[start * hop:(start + seg) * hop]
        cols["wav"].append(np.pad(wav, (0, seg * hop - len(wav))))
        for name in ("units", "pitch", "style"):
            values = getattr(u, name)
            cols[name].append(None if values is None else values[idx])

    def stack(name):
        return None if cols[name][0] is None else torch.as_tensor(np.stack(cols[name]))

    def ids(key, used):
        return torch.tensor([getattr(u, key) for u in utts]) if used else None

    return (stack("wav").float(), stack("units"), stack("pitch"), stack("style"),
            ids("speaker", model_cfg.num_speakers), ids("style_id", model_cfg.num_styles), utts)


class VocoderTrainer:
    """Owns models, optimizers and data of one run; `train()` runs to `cfg.steps`, resuming if possible."""

    def __init__(self, cfg: VocoderTrainConfig):
        import torch

        from ..vocoder.config import VocoderConfig
        from ..vocoder.discriminators import DiscriminatorConfig, Discriminators, LogMel
        from ..vocoder.hifigan import CodeHiFiGAN

        self.cfg = cfg
        self.out = Path(cfg.out_dir)
        torch.manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed)
        self.model_cfg = VocoderConfig.preset(cfg.model)
        if cfg.speakers and self.model_cfg.num_speakers and len(cfg.speakers) > self.model_cfg.num_speakers:
            # named speakers beyond the preset's table: one embedding row each
            self.model_cfg = replace(self.model_cfg, num_speakers=len(cfg.speakers))
        self.data = load_manifest(cfg.manifest, self.model_cfg)
        self.gen = CodeHiFiGAN(self.model_cfg)
        self.gen.apply_weight_norm()
        self.disc = Discriminators(DiscriminatorConfig.preset(cfg.discriminator))
        self.mel = LogMel(self.model_cfg.sample_rate)
        self.opt_g = torch.optim.AdamW(self.gen.parameters(), cfg.lr, betas=cfg.betas)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), cfg.lr, betas=cfg.betas)
        self.step = 0

    # -- data -------------------------------------------------------------------------------------
    def batch(self):
        return sample_batch(self.data, self.rng, self.cfg.batch_size, self.cfg.segment_frames, self.model_cfg)

    def duration_loss(self, utts: list[Utterance]):
        import torch

        if self.gen.duration is None:
            return torch.zeros(())
        losses = []
        for u in utts:
            units, dur = run_lengths(u.units)
            pred = self.gen.log_durations(torch.as_tensor(units)[None])[0]
            losses.append(torch.mean((pred - torch.log(torch.as_tensor(dur, dtype=torch.float32) + 1)) ** 2))
        return torch.stack(losses).mean()

    # -- one step ---------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        import torch

        from ..vocoder.discriminators import adversarial_loss, discriminator_loss, feature_matching_loss

        wav, units, pitch, style, speaker, gstyle, utts = self.batch()
        fake = self.gen(units, pitch, style, speaker, gstyle)  # [B, seg * hop]
        real_scores, _ = self.disc(wav)
        fake_scores, _ = self.disc(fake.detach())
        loss_d = discriminator_loss(real_scores, fake_scores)
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()

        loss_mel = torch.nn.functional.l1_loss(self.mel(fake), self.mel(wav))
        real_scores, real_maps = self.disc(wav)
        fake_scores, fake_maps = self.disc(fake)
        loss_adv = adversarial_loss(fake_scores)
        loss_fm = feature_matching_loss(real_maps, fake_maps)
        loss_dur = self.duration_loss(utts)
        c = self.cfg
        loss_g = loss_adv + c.lambda_fm * loss_fm + c.lambda_mel * loss_mel + c.lambda_dur * loss_dur
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] *= c.lr_decay
        self.step += 1
        losses = {"loss_d": loss_d, "loss_g": loss_g, "mel": loss_mel, "adv": loss_adv, "fm": loss_fm,
                  "dur": loss_dur}
        return {"step": self.step, **{k: float(v.detach()) for k, v in losses.items()}}

    def resynthesize(self, u: Utterance):
        """One utterance from its frame-aligned units (no durations), in eval mode -> [1, T * hop]."""
        import torch

        def one(v):
            return None if v is None else torch.as_tensor(v)[None]

        spk = torch.tensor([u.speaker]) if self.model_cfg.num_speakers else None
        sty = torch.tensor([u.style_id]) if self.model_cfg.num_styles else None
        self.gen.eval()
        try:
            with torch.no_grad():
                return self.gen(one(u.units), one(u.pitch), one(u.style), spk, sty)
        finally:
            self.gen.train()

    def mel_error(self, utt: Utterance | None = None) -> float:
        """L1 log-mel distance of a whole utterance resynthesized from its units."""
        import torch

        u = utt or self.data[0]
        fake = self.resynthesize(u)
        with torch.no_grad():
            return float(torch.nn.functional.l1_loss(self.mel(fake), self.mel(torch.as_tensor(u.wav)[None])))

    # -- persistence ------------------------------------------------------------------------------
    def save(self) -> None:
        import torch

        from ..vocoder.convert import save_folder

        self.out.mkdir(parents=True, exist_ok=True)
        state = {"step": self.step, "generator": self.gen.state_dict(), "discriminator": self.disc.state_dict(),
                 "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                 "torch_rng": torch.get_rng_state(), "data_rng": repr(self.rng.getstate()),
                 "config": json.dumps(self.model_cfg.to_dict())}
        tmp = self.out / "state.pt.part"
        torch.save(state, tmp)
        os.replace(tmp, self.out / "state.pt")
        speakers = list(self.cfg.speakers) or None
        save_folder(self.out / "vocoder", self.model_cfg, self.gen.state_dict(), speakers)

    def resume(self) -> bool:
        import ast

        import torch

        path = self.out / "state.pt"
        if not path.exists():
            return False
        state = torch.load(path, map_location="cpu", weights_only=True)
        if json.loads(state["config"]) != self.model_cfg.to_dict():
            raise ValueError(f"{path} was trained with another model config; use a new out_dir")
        self.gen.load_state_dict(state["generator"])
        self.disc.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["torch_rng"])
        self.rng.setstate(ast.literal_eval(state["data_rng"]))
        self.step = int(state["step"])
        logger.info("resumed vocoder training from %s at step %d", path, self.step)
        return True

    def write_sample(self) -> Path:
        from ..audio import write_audio

        wav = self.resynthesize(self.data[0])[0]
        return write_audio(self.out / "samples" / f"step_{self.step}.wav", wav.numpy(), self.model_cfg.sample_rate)

    def train(self) -> TrainResult:
        import torch

        threads = torch.get_num_threads()
        if self.cfg.num_threads:
            torch.set_num_threads(self.cfg.num_threads)  # small models lose time to thread sync on CPU
        try:
            return self._train()
        finally:
            torch.set_num_threads(threads)

    def _train(self) -> TrainResult:
        from tqdm import tqdm

        self.resume()
        result = TrainResult(self.step, self.out)
        log_path = self.out / "log.jsonl"
        self.out.mkdir(parents=True, exist_ok=True)
        c = self.cfg
        with open(log_path, "a") as log, tqdm(total=c.steps, initial=self.step, desc="train vocoder",
                                              unit="step") as bar:
            while self.step < c.steps:
                rec = self.train_step()
                bar.update(1)
                if self.step % c.log_every == 0 or self.step == c.steps:
                    result.history.append(rec)
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    bar.set_postfix(mel=f"{rec['mel']:.3f}", d=f"{rec['loss_d']:.2f}")
                    logger.info("step %d: mel %.4f, adv %.3f, fm %.3f, dur %.3f, D %.3f", self.step, rec["mel"],
                                rec["adv"], rec["fm"], rec["dur"], rec["loss_d"])
                if self.step % c.sample_every == 0:
                    self.write_sample()
                if self.step % c.checkpoint_every == 0:
                    self.save()
        self.save()
        result.steps = self.step
        return result


def train_vocoder(cfg: VocoderTrainConfig) -> TrainResult:
    return VocoderTrainer(cfg).train()


# -- CLI: `spiritlm train vocoder` ---------------------------------------------------------------
def register(sub) -> None:
    p = sub.add_parser("vocoder", help="train a unit HiFi-GAN on (audio, units) pairs from a manifest")
    p.add_argument("manifest", help="JSON lines: {'audio': path, 'hubert': '...', ['pitch', 'style', 'speaker']}")
    p.add_argument("--out", required=True, help="run folder (checkpoints, log.jsonl, samples/, vocoder/)")
    p.add_argument("--preset", default="mini", help="training preset: tiny, mini or official (default mini)")
    p.add_argument("--model", help="vocoder size preset (base, expressive, mini, mini_expressive, tiny, ...)")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--segment-frames", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; tiny preset: 1)")
    p.add_argument("--speakers", help="comma-separated speaker names for speakers.txt")
    p.set_defaults(func=_run)


def _run(args) -> int:
    overrides = {k: v for k, v in {"model": args.model, "steps": args.steps, "batch_size": args.batch_size,
                                   "lr": args.lr, "segment_frames": args.segment_frames,
                                   "seed": args.seed, "num_threads": args.threads}.items() if v is not None}
    if args.speakers:
        overrides["speakers"] = tuple(s.strip() for s in args.speakers.split(","))
    if args.model and args.model.startswith("tiny") and args.preset != "tiny":
        overrides.setdefault("discriminator", "tiny")
    cfg = VocoderTrainConfig.preset(args.preset, manifest=args.manifest, out_dir=args.out, **overrides)
    result = train_vocoder(cfg)
    last = result.history[-1] if result.history else {}
    print(f"trained vocoder to step {result.steps}; mel loss {last.get('mel', float('nan')):.4f}; "
          f"inference model in {result.out_dir / 'vocoder'}")
    return 0
