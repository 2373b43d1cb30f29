"""`spiritlm train prosody-style`: the prosodic `[St]` tokenizer of `speech.prosody_style`, supervised on styles.

    spiritlm train prosody-style corpus/manifest.jsonl --out runs/prosody-style --max-files 3000

Reads the corpus manifest (`audio`, `style`, `split`, `speaker`), measures the prosody frames of up to
`max_files` train utterances and `max_eval_files` valid ones (cached in `OUT/frames.npz`, extended when
interrupted, so a second run only measures what is missing), then trains the MLP on every token's
statistics with the utterance's style as the label (class-balanced cross-entropy, full batch). Reports
token accuracy and utterance accuracy (majority of its tokens) on the valid split, per speaker group when
`--held-out` names voices the train split never has. Writes `OUT/style` (the tokenizer), `OUT/log.jsonl`
and `OUT/result.json`.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .common import register_trainer, torch_threads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProsodyStyleTrainConfig:
    manifest: str = ""
    out_dir: str = "runs/prosody-style"
    max_files: int = 3000
    max_eval_files: int = 600
    steps: int = 1500
    lr: float = 3e-3
    hidden: int = 64
    context_s: float = 1.0
    held_out: str = ""  # comma-separated voices reported apart (never in the train split)
    seed: int = 0
    threads: int = 0

    @classmethod
    def preset(cls, name: str, **overrides) -> ProsodyStyleTrainConfig:
        presets = {"tiny": cls(max_files=6, max_eval_files=4, steps=20, hidden=8), "mini": cls()}
        if name not in presets:
            raise ValueError(f"unknown prosody-style preset {name!r}; valid: {', '.join(sorted(presets))}")
        return replace(presets[name], **overrides)


def _pick(cfg: ProsodyStyleTrainConfig) -> tuple[list[dict], list[dict]]:
    path = Path(cfg.manifest)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for i, r in enumerate(recs, 1):
        missing = [k for k in ("id", "audio", "style") if k not in r]
        if missing:
            raise ValueError(f"{path}:{i}: a prosody-style manifest line needs id, audio, style; missing {missing}")
        r["audio"] = str(path.parent / r["audio"])
    rng = random.Random(cfg.seed)
    train = [r for r in recs if r.get("split", "train") == "train"]
    valid = [r for r in recs if r.get("split") == "valid"] or [r for r in recs if r.get("split") == "test"]
    train = rng.sample(train, min(cfg.max_files, len(train)))
    held = {s for s in cfg.held_out.split(",") if s}
    first = [r for r in valid if r.get("speaker") in held]  # every held-out utterance, then seen voices
    rest = [r for r in valid if r.get("speaker") not in held]
    first = rng.sample(first, min(cfg.max_eval_files // 2, len(first)))
    valid = first + rng.sample(rest, min(cfg.max_eval_files - len(first), len(rest)))
    if not train:
        raise ValueError(f"{path} has no train utterances")
    return train, valid


def _frames(recs: list[dict], cache: Path) -> dict[str, np.ndarray]:
    """id -> prosody frames, measured once and kept in `cache` (saved every 200 files)."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..speech.prosody_style import prosody_frames

    have: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache) as z:
            have = {k: z[k] for k in z.files}
    todo = [r for r in recs if r["id"] not in have]
    for n, r in enumerate(tqdm(todo, desc="prosody frames", unit="utt", disable=len(todo) < 20), 1):
        have[r["id"]] = prosody_frames(load_audio(r["audio"])).astype(np.float32)
        if n % 200 == 0 or n == len(todo):
            tmp = cache.with_name(cache.stem + ".tmp.npz")
            np.savez(tmp, **have)
            tmp.replace(cache)
    return have


def _tokens(recs, frames, labels, context_s):
    from ..speech.prosody_style import FRAME, n_tokens, token_stats

    xs, ys, utt = [], [], []
    for i, r in enumerate(recs):
        f = frames[r["id"]]
        n = max(1, n_tokens((len(f) - 1) * FRAME))
        xs.append(token_stats(f, n, 1.0, context_s))
        ys += [labels.index(r["style"])] * n
        utt += [i] * n
    return np.concatenate(xs), np.array(ys), np.array(utt)


def _accuracy(pred: np.ndarray, y: np.ndarray, utt: np.ndarray, keep: np.ndarray) -> dict:
    sel = keep[utt]
    if not sel.any():
        return {"tokens": 0}
    votes = {}
    for u, p in zip(utt[sel], pred[sel]):
        votes.setdefault(int(u), []).append(int(p))
    utt_label = {int(u): int(t) for u, t in zip(utt, y)}
    utt_ok = [np.bincount(v).argmax() == utt_label[u] for u, v in votes.items()]
    return {"tokens": int(sel.sum()), "token_accuracy": float((pred[sel] == y[sel]).mean()),
            "utterances": len(utt_ok), "utterance_accuracy": float(np.mean(utt_ok))}


def train_prosody_style(cfg: ProsodyStyleTrainConfig) -> dict:
    with torch_threads(cfg.threads):
        return _train(cfg)


def _train(cfg: ProsodyStyleTrainConfig) -> dict:
    import torch

    from ..speech.prosody_style import ProsodyStyleConfig, ProsodyStyleModel, ProsodyStyleTokenizer

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, valid = _pick(cfg)
    frames = _frames(train + valid, out / "frames.npz")
    labels = sorted({r["style"] for r in train})
    valid = [r for r in valid if r["style"] in labels]
    x, y, _ = _tokens(train, frames, labels, cfg.context_s)
    torch.manual_seed(cfg.seed)
    model = ProsodyStyleModel(ProsodyStyleConfig(labels=tuple(labels), hidden=cfg.hidden, context_s=cfg.context_s))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.mean.copy_(xt.mean(0))
    model.std.copy_(xt.std(0).clamp(min=1e-2))
    weight = torch.tensor(1.0 / np.bincount(y, minlength=len(labels)).clip(1), dtype=torch.float32)
    weight = weight / weight.mean()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-2)
    history = []
    with open(out / "log.jsonl", "w") as log:
        for step in range(1, cfg.steps + 1):
            model.train()
            loss = torch.nn.functional.cross_entropy(model(xt), yt, weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % max(1, cfg.steps // 10) == 0 or step == cfg.steps:
                rec = {"step": step, "loss": float(loss.detach())}
                history.append(rec)
                log.write(json.dumps(rec) + "\n")
    model.eval()
    tok = ProsodyStyleTokenizer(model)
    tok.save(out / "style")
    result = {"labels": labels, "train_utterances": len(train), "train_tokens": int(len(y)),
              "final_loss": history[-1]["loss"], "style": str(out / "style"), "config": asdict(cfg)}
    if valid:
        xv, yv, uv = _tokens(valid, frames, labels, cfg.context_s)
        with torch.no_grad():
            pred = model(torch.from_numpy(xv)).argmax(-1).numpy()
        held = {s for s in cfg.held_out.split(",") if s}
        is_held = np.array([r.get("speaker") in held for r in valid])
        result["valid"] = {"all": _accuracy(pred, yv, uv, np.ones(len(valid), bool))}
        if held:
            result["valid"]["held_out_voices"] = _accuracy(pred, yv, uv, is_held)
            result["valid"]["seen_voices"] = _accuracy(pred, yv, uv, ~is_held)
        result["chance"] = 1.0 / len(labels)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return result


def register(sub) -> None:
    register_trainer(sub, "prosody-style", "prosodic [St] tokenizer supervised on the corpus's style labels",
                     ProsodyStyleTrainConfig, train_prosody_style,
                     "corpus manifest.jsonl (audio, style, split, speaker)",
                     "run folder (frames.npz cache, style/, result.json)")
