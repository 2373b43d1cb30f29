"""Mini-batch k-means on speech features: `spiritlm train kmeans`.

The units of a HuBERT tokenizer are clusters of its features. Training collects a pool of frame
features from a manifest (MFCC or log-mel for HuBERT's first iteration, or a HuBERT layer), starts
the centroids with k-means++ and then, for `steps` mini-batches, moves every centroid to the
running mean of all frames ever assigned to it (Sculley 2010)::

    c_k <- c_k + (n_k / N_k) (mean of this batch's frames in k - c_k),   N_k += n_k

A centroid that has drawn no frame for a while is restarted on a random frame. `out/state.pt`
(centroids, counts, step, RNG) makes the run resumable; `out/kmeans/` holds the result
(safetensors + config.json) for `speech.quantizer.load`, and its config names the
features it was trained on, so that `feature_source(config)` can rebuild them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger(__name__)

FEATURE_KINDS = ("mfcc", "logmel", "hubert")


@dataclass(frozen=True)
class KmeansTrainConfig:
    manifest: str = ""
    out_dir: str = "runs/kmeans"
    features: str = "mfcc"  # mfcc | logmel | hubert
    hubert: str = ""  # HuBERT (path or name) for features="hubert"
    layer: int = 6  # its output layer (1-based)
    hop: int = 640  # frame hop in samples for mfcc/logmel (640 = 25 Hz, as the Spirit HuBERT)
    n_clusters: int = 100
    batch_size: int = 2048
    steps: int = 300
    max_frames: int = 200_000  # size of the feature pool
    split: str = "train"
    max_files: int = 0  # files the pool is drawn from, evenly spaced over the manifest (0 = all)
    checkpoint_every: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.features not in FEATURE_KINDS:
            raise ValueError(f"unknown features {self.features!r}; valid: {', '.join(FEATURE_KINDS)}")
        if self.features == "hubert" and not self.hubert:
            raise ValueError("features='hubert' needs hubert=<path or name of a HuBERT>")

    @classmethod
    def preset(cls, name: str, **overrides) -> KmeansTrainConfig:
        presets = {"tiny": cls(n_clusters=8, batch_size=256, steps=20, max_frames=5000, checkpoint_every=10),
                   "mini": cls()}
        if name not in presets:
            raise ValueError(f"unknown k-means preset {name!r}; valid: {', '.join(sorted(presets))}")
        return replace(presets[name], **overrides)

    def feature_meta(self) -> dict:
        if self.features == "hubert":
            return {"features": "hubert", "hubert": self.hubert, "layer": self.layer}
        return {"features": self.features, "hop": self.hop}


def feature_source(meta: dict) -> tuple[Callable[[np.ndarray], torch.Tensor], int]:
    """(wav -> [frames, dim] features, hop) from a k-means config's feature description."""
    from ..speech import hubert
    from ..speech.features import FeatureSpec, feature_fn

    kind = meta.get("features")
    if kind == "hubert":
        model = hubert.load(meta["hubert"], int(meta["layer"]))

        def hubert_feats(wav: np.ndarray) -> torch.Tensor:
            with torch.inference_mode():
                return model(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)))[0][0]

        return hubert_feats, model.hop
    if kind in ("mfcc", "logmel"):
        from ..speech.hubert_convert import HubertSpec

        hop = int(meta.get("hop", 640))
        conv = ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * (3 if hop == 640 else 2)
        spec = HubertSpec(conv_layers=conv)
        if spec.hop != hop:
            raise ValueError(f"acoustic features support hop 640 (25 Hz) or 320 (50 Hz), got {hop}")
        return feature_fn(FeatureSpec(kind), hop, spec.num_frames), hop
    raise ValueError(f"unknown feature kind {kind!r}; valid: {', '.join(FEATURE_KINDS)}")


def collect_pool(cfg: KmeansTrainConfig) -> torch.Tensor:
    """Frames of the manifest's audio, at most `max_frames`, drawn evenly from every file."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..speech.audio_list import read_manifest_entries

    entries = read_manifest_entries(cfg.manifest, cfg.split)
    if 0 < cfg.max_files < len(entries):
        entries = [entries[i * len(entries) // cfg.max_files] for i in range(cfg.max_files)]
    fn, _ = feature_source(cfg.feature_meta())
    feats = [fn(load_audio(e.path)) for e in tqdm(entries, desc="k-means features", unit="file")]
    pool = torch.cat([f for f in feats if len(f)])  # [N, D]
    if len(pool) > cfg.max_frames:
        g = torch.Generator().manual_seed(cfg.seed)
        pool = pool[torch.randperm(len(pool), generator=g)[:cfg.max_frames]]
    logger.info("k-means pool: %d frames of dim %d from %d files", len(pool), pool.shape[1], len(entries))
    return pool


def kmeans_pp(pool: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each next centre drawn with probability ∝ squared distance."""
    if len(pool) < k:
        raise ValueError(f"k-means needs at least {k} frames, the pool has {len(pool)}")
    centers = [pool[torch.randint(len(pool), (1,), generator=g)].squeeze(0)]
    d2 = ((pool - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        probs = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1.0 / len(d2))
        c = pool[torch.multinomial(probs, 1, generator=g)].squeeze(0)
        centers.append(c)
        d2 = torch.minimum(d2, ((pool - c) ** 2).sum(1))
    return torch.stack(centers)  # [K, D]


def assign(x: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = (x ** 2).sum(1, keepdim=True) - 2 * x @ centers.T + (centers ** 2).sum(1)  # [N, K]
    dist, idx = d.min(1)
    return idx, dist.clamp(min=0)


@dataclass
class KmeansState:
    centers: torch.Tensor  # [K, D]
    counts: torch.Tensor  # [K] frames ever assigned
    step: int
    rng: torch.Tensor
    history: list

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        torch.save(asdict(self), tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> KmeansState:
        return cls(**torch.load(path, map_location="cpu", weights_only=True))


def minibatch_step(state: KmeansState, pool: torch.Tensor, batch_size: int, g: torch.Generator) -> float:
    x = pool[torch.randint(len(pool), (min(batch_size, len(pool)),), generator=g)]
    idx, dist = assign(x, state.centers)
    k = len(state.centers)
    n = torch.bincount(idx, minlength=k).float()  # [K]
    sums = torch.zeros_like(state.centers).index_add_(0, idx, x)
    hit = n > 0
    state.counts += n
    mean = sums[hit] / n[hit, None]
    state.centers[hit] += (n[hit] / state.counts[hit])[:, None] * (mean - state.centers[hit])
    dead = ~hit & (state.counts < 1)  # never used: restart on a random frame of the batch
    if dead.any():
        state.centers[dead] = x[torch.randint(len(x), (int(dead.sum()),), generator=g)]
    return float(dist.mean())


@dataclass(frozen=True)
class KmeansResult:
    out_dir: Path
    steps: int
    inertia: float  # mean squared distance to the nearest centroid over the pool
    history: list


def train_kmeans(cfg: KmeansTrainConfig) -> KmeansResult:
    from tqdm import tqdm

    from ..speech.quantizer import KmeansQuantizer

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pool_path, state_path = out / "pool.pt", out / "state.pt"
    if pool_path.is_file():
        pool = torch.load(pool_path, weights_only=True)
    else:
        pool = collect_pool(cfg)
        torch.save(pool, pool_path)
    g = torch.Generator().manual_seed(cfg.seed)
    if state_path.is_file():
        state = KmeansState.load(state_path)
        g.set_state(state.rng)
        logger.info("resuming k-means at step %d", state.step)
    else:
        centers = kmeans_pp(pool, cfg.n_clusters, g)
        state = KmeansState(centers, torch.zeros(cfg.n_clusters), 0, g.get_state(), [])
    for _ in tqdm(range(state.step, cfg.steps), desc="k-means", unit="step", initial=state.step, total=cfg.steps):
        loss = minibatch_step(state, pool, cfg.batch_size, g)
        state.step += 1
        state.history.append(loss)
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps:
            state.rng = g.get_state()
            state.save(state_path)
    inertia = float(assign(pool, state.centers)[1].mean())
    KmeansQuantizer(state.centers).save(out / "kmeans", **cfg.feature_meta(), inertia=inertia,
                                                   steps=state.step)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    return KmeansResult(out, state.step, inertia, list(state.history))


def register(sub) -> None:
    p = sub.add_parser("kmeans", help="mini-batch k-means on MFCC / log-mel / HuBERT features of a manifest")
    p.add_argument("manifest", help="JSON lines with 'audio' (the corpus manifest works)")
    p.add_argument("--out", required=True, help="run folder (pool.pt, state.pt, kmeans/)")
    p.add_argument("--preset", default="mini", help="tiny or mini (default mini)")
    types = {"int": int, "str": str}
    for f in fields(KmeansTrainConfig):
        if f.name not in ("manifest", "out_dir") and f.type in types:
            p.add_argument("--" + f.name.replace("_", "-"), type=types[f.type], dest=f.name)
    p.set_defaults(func=_run)


def _run(args) -> int:
    names = {f.name for f in fields(KmeansTrainConfig)} - {"manifest", "out_dir"}
    overrides = {k: v for k, v in vars(args).items() if k in names and v is not None}
    cfg = KmeansTrainConfig.preset(args.preset, manifest=args.manifest, out_dir=args.out, **overrides)
    res = train_kmeans(cfg)
    print(f"k-means: {cfg.n_clusters} clusters on {cfg.features} features, {res.steps} steps, "
          f"inertia {res.inertia:.4f}; model in {res.out_dir / 'kmeans'}")
    return 0
