"""Train a style classifier for the style tokenizer: `spiritlm train style`.

Data: JSON lines with an `audio` path and a `style` label (the corpus manifest of
`spiritlm.data.corpus` has both)::

    {"audio": "wav/s000042/s000042-espeak-en-us-f3-happy.wav", "style": "happy", ...}

The model is a small `Wav2Vec2ForSequenceClassification` trained from scratch, used exactly as the
released style encoder is (`spiritlm.speech.style`): normalised audio -> wav2vec2 -> projector ->
means over 50-frame (1 s) chunks -> classifier. Every one-second chunk of an utterance is trained
to predict the utterance's label (cross-entropy averaged over chunks). Segments are
`segment_seconds` long, cut at random from each file (short files are repeated to fill them); with
`balanced` (default) a batch draws styles uniformly, then a file of each drawn style.

`out_dir/state.pt` (model, optimizer, step, history) is written every `checkpoint_every` steps and
at the end, so a run resumes; `out_dir/style/` always holds the latest tokenizer (config.json with
the label names + model.safetensors) for `speech.style.load`. Losses go to `out_dir/log.jsonl`.
"""

from __future__ import annotations

import json
import logging
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
from .vqvae import TrainResult, read_audio_manifest

logger = logging.getLogger(__name__)

# wav2vec2 sizes (hidden, layers, heads, ffn, conv width, projector); the conv strides are wav2vec2-base's
STYLE_MODELS = {"tiny": (32, 2, 2, 64, 16, 16), "small": (128, 4, 4, 256, 64, 64)}


@dataclass(frozen=True)
class StyleTrainConfig:
    manifest: str = ""
    out_dir: str = "runs/style"
    model: str = "small"  # a STYLE_MODELS name
    steps: int = 1500
    batch_size: int = 8
    segment_seconds: float = 2.0
    lr: float = 5e-4
    balanced: bool = True  # sample styles uniformly (corpora are dominated by "neutral")
    log_every: int = 25
    checkpoint_every: int = 250
    seed: int = 0
    threads: int = 0  # torch intra-op threads for this run (0: leave as is); 1 is fastest for tiny models

    @classmethod
    def preset(cls, name: str, **overrides) -> StyleTrainConfig:
        presets = {"tiny": cls(model="tiny", threads=1,
                               steps=30, batch_size=4, segment_seconds=1.0, lr=2e-3, log_every=5,
                               checkpoint_every=15),
                   "mini": cls()}
        if name not in presets:
            raise ValueError(f"unknown style training preset {name!r}; valid: {', '.join(sorted(presets))}")
        return replace(presets[name], **overrides)


def style_model_config(name: str, labels: list[str]):
    """A `Wav2Vec2Config` for a STYLE_MODELS size with the given label names."""
    from transformers import Wav2Vec2Config

    if name not in STYLE_MODELS:
        raise ValueError(f"unknown style model {name!r}; valid: {', '.join(sorted(STYLE_MODELS))}")
    hidden, layers, heads, ffn, conv, proj = STYLE_MODELS[name]
    return Wav2Vec2Config(
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ffn,
        conv_dim=(conv,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=32, num_conv_pos_embedding_groups=4, feat_extract_norm="group",
        do_stable_layer_norm=False, classifier_proj_size=proj, use_weighted_layer_sum=False,
        num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={s: i for i, s in enumerate(labels)},
        mask_time_prob=0.0, layerdrop=0.0,
    )


def _segment(wav: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(wav) < n:
        wav = np.resize(wav, n)  # repeat a short file to fill the segment
    start = int(rng.integers(0, len(wav) - n + 1))
    return wav[start:start + n]


def _logits(model, x, pool_size: int):
    from ..speech.style import pool_chunks

    hidden = model.wav2vec2(x).last_hidden_state  # [B, T, H]
    return model.classifier(pool_chunks(model.projector(hidden), pool_size))  # [B, n, C]


def train_style(cfg: StyleTrainConfig) -> TrainResult:
    """Train (or resume) as the module docstring says; returns the final step and the logged history."""
    with torch_threads(cfg.threads):
        return _train_style(cfg)


def _train_style(cfg: StyleTrainConfig) -> TrainResult:
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm
    from transformers import Wav2Vec2ForSequenceClassification

    from ..audio import load_audio
    from ..speech.style import StyleConfig, StyleTokenizer, normalize_wav

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = read_audio_manifest(cfg.manifest, label_key="style")
    labels = sorted({r["style"] for r in rows})
    if len(labels) < 2:
        raise ValueError(f"a style classifier needs at least two styles; the manifest has {labels}")
    wavs = [load_audio(r["audio"]) for r in tqdm(rows, desc="audio", disable=len(rows) < 50)]
    targets = np.array([labels.index(r["style"]) for r in rows])
    by_label = [np.flatnonzero(targets == k) for k in range(len(labels))]
    torch.manual_seed(cfg.seed)
    model = Wav2Vec2ForSequenceClassification(style_model_config(cfg.model, labels))
    tok = StyleTokenizer(model, StyleConfig())
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    n = int(cfg.segment_seconds * 16000) + 80  # + 80 samples: whole 50-frame chunks
    state_path = out / "state.pt"

    def same_labels(state: dict) -> None:
        if json.loads(state["labels"]) != labels:
            raise ValueError(f"{state_path} was trained on styles {json.loads(state['labels'])}, not {labels}")

    step, history, _ = resume_state(state_path, model, opt, check=same_labels)
    rng = np.random.default_rng([cfg.seed, step])

    def save() -> None:
        save_state(state_path, model, opt, step, history, labels=json.dumps(labels))
        tok.save(out / "style")

    bar = tqdm(total=cfg.steps, initial=step, desc="style", disable=cfg.steps < 50)
    with open(out / "log.jsonl", "a") as log:
        while step < cfg.steps:
            if cfg.balanced:  # a style uniformly, then one of its files: rare styles are not drowned out
                idx = np.array([rng.choice(by_label[k]) for k in rng.integers(0, len(labels), cfg.batch_size)])
            else:
                idx = rng.integers(0, len(wavs), cfg.batch_size)
            x = torch.from_numpy(np.stack([normalize_wav(_segment(wavs[i], n, rng)) for i in idx]))  # [B, n]
            logits = _logits(model, x, tok.config.pool_size)  # [B, chunks, C]
            y = torch.from_numpy(targets[idx]).long()[:, None].expand(-1, logits.shape[1])  # [B, chunks]
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                acc = float((logits.argmax(-1) == y).float().mean())
                rec = {"step": step, "loss": float(loss.detach()), "accuracy": acc}
                log_record(log, history, rec)
                bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{acc:.2f}")
            if step % cfg.checkpoint_every == 0:
                save()
    bar.close()
    model.eval()
    save()
    return TrainResult(steps=step, history=history, out_dir=out)


@dataclass(frozen=True)
class StyleEval:
    token_accuracy: float  # per 1-s token, against the utterance's label
    utterance_accuracy: float  # majority token per utterance
    per_style: dict[str, float]  # token accuracy per label


def evaluate_style(tok, rows: list[dict]) -> StyleEval:
    """Style tokens of each file against its `style` label (labels unknown to the model count as wrong)."""
    from ..audio import load_audio

    labels = tok.labels
    hits, n, utt_hits = {}, {}, 0
    for row in rows:
        units = tok.encode(load_audio(row["audio"]))
        if units.size == 0:
            continue
        target = labels.index(row["style"]) if row["style"] in labels else -1
        hits[row["style"]] = hits.get(row["style"], 0) + int((units == target).sum())
        n[row["style"]] = n.get(row["style"], 0) + len(units)
        utt_hits += int(np.bincount(units).argmax() == target)
    total = max(sum(n.values()), 1)
    return StyleEval(token_accuracy=sum(hits.values()) / total, utterance_accuracy=utt_hits / max(len(rows), 1),
                     per_style={k: hits[k] / n[k] for k in sorted(n)})


def register(sub) -> None:
    p = sub.add_parser("style", help="train a style classifier (1 token/s) from {audio, style} JSON lines")
    p.add_argument("manifest", help="JSON lines: {'audio': path, 'style': label} (the corpus manifest works)")
    p.add_argument("--out", required=True, help="run folder (state.pt, log.jsonl, style/)")
    p.add_argument("--preset", default="mini", help="training preset: tiny or mini (default mini)")
    add_config_options(p, StyleTrainConfig, ("manifest", "out_dir"), preset=StyleTrainConfig.preset("mini"))
    p.add_argument("--valid", help="a held-out manifest to report token and utterance accuracy on")
    p.set_defaults(func=_run)


def _run(args) -> int:
    overrides = config_overrides(args, StyleTrainConfig, ("manifest", "out_dir"))
    cfg = StyleTrainConfig.preset(args.preset, manifest=args.manifest, out_dir=args.out, **overrides)
    result = train_style(cfg)
    first, last = (result.history[0], result.history[-1]) if result.history else ({}, {})
    print(f"trained style classifier to step {result.steps}; loss {first.get('loss', float('nan')):.4f} -> "
          f"{last.get('loss', float('nan')):.4f}, accuracy {last.get('accuracy', float('nan')):.2f}; "
          f"tokenizer in {result.out_dir / 'style'}")
    if args.valid:
        from ..speech import style

        rows = read_audio_manifest(args.valid, label_key="style")
        m = evaluate_style(style.load(result.out_dir / "style"), rows)
        per = ", ".join(f"{k} {v:.2f}" for k, v in m.per_style.items())
        print(f"held-out ({len(rows)} files): token accuracy {m.token_accuracy:.3f}, utterance accuracy "
              f"{m.utterance_accuracy:.3f} ({per})")
    return 0
