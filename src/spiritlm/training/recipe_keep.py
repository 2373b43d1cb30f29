"""Trained recipe parts kept outside the work folder, so that a fresh machine does not train them again.

A recipe's work folder lives in a cache (`~/.cache/spiritlm/...`) that a new machine does not have. The
parts that take the CPU time are small trained models; `--keep DIR` copies each finished stage's model
into `DIR/<stage>/` (safetensors, JSON, text; never pickles) with a `SHA256SUMS` manifest and a
`stage.json` that names the scale and corpus it was trained for. On a later run with the same `--keep
DIR`, a stage that is not done in the work folder but kept for the same scale and corpus is restored
from `DIR` instead of trained, and the stages after it run on the restored model. Data (the corpus,
unit caches) is rebuilt: it is large and cheap to remake.

An LM stage is long enough to span machines, so its latest checkpoint can be kept before it is done
(`spiritlm recipe keep`): the weights in bf16 and the trainer state (step, data stream, optimizer
hyper-parameters), without the AdamW moments (twice the weights' size). Restored, the trainer resumes
at that step on the same data stream; the moments start again from zero, which costs a few hundred
steps of adaptation, not the run.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

STAGE_FILE = "stage.json"
SUFFIXES = {".safetensors", ".json", ".txt", ".model", ".yaml"}  # no pickles: a kept part may be committed
LM_STAGES = ("lm-base", "lm-expressive", "lm-ablation", "lm-textonly")


@dataclass(frozen=True)
class Part:
    paths: tuple[str, ...]  # work-relative files or folders the stage's later stages read
    optional: tuple[str, ...] = ()  # kept when the stage wrote them (a report, say)


PARTS = {
    "text-tokenizer": Part(("models/text-tokenizer",)),
    "kmeans-mfcc": Part(("runs/kmeans-mfcc/kmeans",)),
    "hubert": Part(("runs/hubert/hubert",)),
    "kmeans-hubert": Part(("runs/kmeans-hubert/kmeans",)),
    "phone-encoder": Part(("runs/phone-encoder/encoder",)),
    "kmeans-phone": Part(("runs/kmeans-phone/kmeans",)),
    "pitch": Part(("runs/pitch/pitch",)),
    "style": Part(("runs/style/style",), ("runs/style/result.json",)),
    "world-base": Part(("runs/world-base/vocoder",)),
    "world-expressive": Part(("runs/world-expressive/vocoder",)),
    "style-referee": Part(("runs/style-referee/prosody.json", "runs/style-referee/model.safetensors",
                           "runs/style-referee/fit.json")),
}


def identity(recipe) -> dict:
    """What a kept part must match to be reused: the scale and the corpus it was trained on."""
    return {"scale": recipe.scale_name, "corpus_hours": recipe.scale.corpus_hours,
            "corpus_preset": recipe.scale.corpus_preset}


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def _check_suffixes(stage: str, files: list[Path]) -> None:
    bad = [p.name for p in files if p.suffix not in SUFFIXES]
    if bad:
        raise ValueError(f"stage {stage}: refusing to keep {bad} (kept parts hold only "
                         f"{', '.join(sorted(SUFFIXES))} files)")


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _publish(tmp: Path, dst: Path, meta: dict) -> None:
    """Write stage.json and SHA256SUMS into the staged copy `tmp`, then put it in place of `dst`."""
    from ..checkpoints import write_manifest

    (tmp / STAGE_FILE).write_text(json.dumps({**meta, "saved": utc_now()}, indent=2) + "\n")
    write_manifest(tmp)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def save_part(recipe, keep: Path, stage: str, marker: dict | None = None) -> Path | None:
    """Copy a finished stage's model into `keep/<stage>` (replacing an older copy); None if it has none."""
    part = PARTS.get(stage)
    if part is None:
        return None
    missing = [str(recipe.work / p) for p in part.paths if not (recipe.work / p).exists()]
    if missing:
        raise FileNotFoundError(f"stage {stage} is marked done but {missing} are missing")
    rels = [*part.paths, *(p for p in part.optional if (recipe.work / p).exists())]
    srcs = [recipe.work / p for p in rels]
    _check_suffixes(stage, [f for s in srcs for f in _files(s)])
    dst = keep / stage
    tmp = keep / f".tmp-{stage}"
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, src in zip(rels, srcs):
        out = tmp / "files" / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, out)
    marker = marker or {}
    _publish(tmp, dst, {"stage": stage, **identity(recipe), "done": True, "seconds": marker.get("seconds"),
                        "finished": marker.get("finished")})
    logger.info("kept stage %s in %s", stage, dst)
    return dst


def save_lm(recipe, keep: Path, stage: str, done: bool) -> Path | None:
    """Keep an LM run's latest checkpoint: bf16 weights, tokenizer, layout and trainer state, no moments."""
    import torch

    from ..torch_files import cast_safetensors
    from .lm_checkpoint import OPTIM_FILE, STATE_FILE, latest_checkpoint, read_state

    ckpt = latest_checkpoint(recipe.run_dir(stage))
    if ckpt is None:
        return None
    dst = keep / stage
    old = read_meta(dst)
    step = read_state(ckpt).step
    if old is not None and old.get("step") == step and old.get("done") == done:
        return dst  # nothing new since the last keep
    tmp = keep / f".tmp-{stage}"
    shutil.rmtree(tmp, ignore_errors=True)

    def copy(src: Path, out: Path) -> None:
        out.mkdir(parents=True)
        for f in sorted(src.iterdir()):
            if f.name == OPTIM_FILE or not f.is_file():
                continue
            if f.name == "model.safetensors":
                cast_safetensors(f, out / f.name, torch.bfloat16)
            else:
                shutil.copyfile(f, out / f.name)
        _check_suffixes(stage, _files(out))

    copy(ckpt, tmp / "checkpoint")
    milestones = []  # checkpoints an equal-budget comparison reads later (`RunConfig.milestones`)
    wanted = json.loads((ckpt / STATE_FILE).read_text()).get("run_config", {}).get("run", {}).get("milestones", ())
    for m in sorted(ckpt.parent / f"step-{int(k):06d}" for k in wanted):
        if m != ckpt and (m / STATE_FILE).is_file():
            copy(m, tmp / "milestones" / m.name)
            milestones.append(m.name)
    config = recipe.run_dir(stage) / "config.yaml"
    if config.is_file():
        shutil.copyfile(config, tmp / "config.yaml")
    metrics = recipe.run_dir(stage) / "metrics.jsonl"
    if metrics.is_file():  # the loss curve so far, as JSON lines
        shutil.copyfile(metrics, tmp / "metrics.json")
    _publish(tmp, dst, {"stage": stage, **identity(recipe), "done": done, "step": step, "checkpoint": ckpt.name,
                        "milestones": milestones})
    logger.info("kept %s at step %d (%s) in %s", stage, step, "done" if done else "running", dst)
    return dst


def read_meta(folder: Path) -> dict | None:
    f = folder / STAGE_FILE
    return json.loads(f.read_text()) if f.is_file() else None


def usable(recipe, keep: Path, stage: str) -> dict | None:
    """The kept copy's stage.json if it fits this recipe (same scale and corpus) and its files are intact."""
    from ..checkpoints import verify_manifest

    meta = read_meta(keep / stage)
    if meta is None:
        return None
    want = identity(recipe)
    if any(meta.get(k) != v for k, v in want.items()):
        logger.info("kept stage %s is for %s, not %s: training it", stage,
                    {k: meta.get(k) for k in want}, want)
        return None
    verify_manifest(keep / stage)
    return meta


def restore_part(recipe, keep: Path, stage: str) -> bool:
    """Put a kept stage's files back into the work folder; False if there is no usable copy."""
    if stage in LM_STAGES:
        return restore_lm(recipe, keep, stage)
    meta = usable(recipe, keep, stage)
    if meta is None or stage not in PARTS:
        return False
    for rel in (*PARTS[stage].paths, *PARTS[stage].optional):
        src, dst = keep / stage / "files" / rel, recipe.work / rel
        if not src.exists() and rel in PARTS[stage].optional:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)
    logger.info("stage %s: restored from %s (trained %s)", stage, keep / stage, meta.get("saved"))
    return True


def restore_lm(recipe, keep: Path, stage: str) -> bool:
    """Write the kept checkpoint into the run folder (fp32 weights, no moments) unless the run is further on.
    Returns True only when the kept run was finished (the stage is then done)."""
    import torch

    from ..torch_files import cast_safetensors
    from .lm_checkpoint import LATEST, latest_checkpoint, read_state

    meta = usable(recipe, keep, stage)
    if meta is None:
        return False
    run = recipe.run_dir(stage)
    here = latest_checkpoint(run)
    if here is not None and read_state(here).step >= meta["step"]:
        return bool(meta.get("done")) and read_state(here).step == meta["step"]
    root = run / "checkpoints"
    srcs = {meta["checkpoint"]: keep / stage / "checkpoint",
            **{m: keep / stage / "milestones" / m for m in meta.get("milestones", [])}}
    for name, src in srcs.items():
        dst = root / name
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
        cast_safetensors(dst / "model.safetensors", dst / "model.safetensors", torch.float32)
    (root / LATEST).write_text(meta["checkpoint"])
    if (keep / stage / "metrics.json").is_file():
        shutil.copyfile(keep / stage / "metrics.json", run / "metrics.jsonl")
    logger.info("stage %s: restored checkpoint step %d from %s", stage, meta["step"], keep / stage)
    return bool(meta.get("done"))


def keep_all(recipe, keep: Path) -> dict[str, str]:
    """Keep every finished stage not kept yet (or kept from an older run) and the LM runs' latest checkpoints."""
    kept = {}
    for stage, _ in recipe.stages:
        done = recipe.marker(stage).is_file()
        if stage in LM_STAGES:
            if save_lm(recipe, keep, stage, done) is not None:
                kept[stage] = f"step {read_meta(keep / stage)['step']}" + (" (done)" if done else "")
        elif done and stage in PARTS:
            meta = read_meta(keep / stage)
            marker = json.loads(recipe.marker(stage).read_text() or "{}")
            # a marker without a finish time (written before they had one) keeps the copy it has
            if meta is None or ("finished" in marker and meta.get("finished") != marker["finished"]):
                save_part(recipe, keep, stage, marker)
            kept[stage] = "done"
    return kept
