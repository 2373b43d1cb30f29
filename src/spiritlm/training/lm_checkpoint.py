"""Training checkpoints of the LM trainer: self-describing folders, written atomically.

One checkpoint is a folder ``<out>/checkpoints/step-000120/``::

    config.json, generation_config.json, model.safetensors   the model (loads with `load_lm`)
    tokenizer.model | tokenizer.json (+ configs), spiritlm.json  text tokenizer and token layout
    optimizer.safetensors   AdamW moments by parameter name ("model.layers.0.mlp.up_proj.weight::exp_avg")
    trainer_state.json      step, data-stream state, optimizer hyperparameters, the run config

It is first written to a hidden temporary folder and renamed into place, then ``latest`` is
rewritten (also by rename): a run killed at any moment (SIGKILL included) leaves either the previous
checkpoint or the new one complete, never half of one. Resuming restores parameters, AdamW moments and
the data stream bit for bit, so the loss curve continues exactly.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
OPTIM_FILE = "optimizer.safetensors"
LATEST = "latest"


@dataclass(frozen=True)
class TrainerState:
    step: int
    data: dict  # PackedMixture.state_dict()
    tokens: int  # training tokens seen so far (all ranks)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _options(**kw):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **kw)


def gather_state(model, optimizer) -> tuple[dict, dict, list]:
    """Full CPU model state, AdamW tensors as {"<param>::<key>": tensor}, and the param groups.

    Works on a plain module, the module inside DDP, or a module sharded in place by FSDP (every rank
    must call it then)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    model_state = get_model_state_dict(model, options=_options(cpu_offload=True))
    optim = get_optimizer_state_dict(model, optimizer, options=_options(cpu_offload=True))
    # with cpu_offload, ranks other than 0 get empty dicts: only rank 0 writes
    tensors = {f"{name}::{k}": v.detach().cpu().contiguous() for name, st in optim.get("state", {}).items()
               for k, v in st.items()}
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in optim.get("param_groups", [])]
    return model_state, tensors, groups


def save_checkpoint(out_dir: Path, step: int, model, gathered: tuple[dict, dict, list], state: TrainerState,
                    tokenizer_dir: Path, layout, run_config: dict, keep: int = 2,
                    milestones: tuple[int, ...] = ()) -> Path:
    """Write step `step` (rank 0 only) from `gather_state` output; keep the newest `keep` checkpoints and
    those at `milestones`."""
    from safetensors.torch import save_file

    from ..lm.extend import TOKENIZER_FILES
    from ..lm.model import write_layout

    root = out_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    tmp = root / f".tmp-step-{step:06d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model_state, optim_state, groups = gathered
    model.save_pretrained(tmp, state_dict=model_state)
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            shutil.copyfile(tokenizer_dir / name, tmp / name)
    write_layout(tmp, layout)
    save_file(optim_state, str(tmp / OPTIM_FILE))
    meta = {"step": state.step, "tokens": state.tokens, "data": state.data, "param_groups": groups,
            "run_config": run_config}
    (tmp / STATE_FILE).write_text(json.dumps(meta, indent=2))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _atomic_text(root / LATEST, final.name)
    old = sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep] if keep > 0 else []
    old = [p for p in old if p.name not in {f"step-{m:06d}" for m in milestones}]
    for p in old:
        shutil.rmtree(p, ignore_errors=True)
    logger.info("saved checkpoint %s", final)
    return final


def checkpoint_at(out_dir: Path, step: int) -> Path | None:
    path = out_dir / "checkpoints" / f"step-{step:06d}"
    return path if (path / STATE_FILE).is_file() else None


def latest_checkpoint(out_dir: Path) -> Path | None:
    root = out_dir / "checkpoints"
    pointer = root / LATEST
    if pointer.is_file():
        path = root / pointer.read_text().strip()
        if (path / STATE_FILE).is_file():
            return path
    complete = sorted(p for p in root.glob("step-*") if (p / STATE_FILE).is_file())
    return complete[-1] if complete else None


def read_state(path: Path) -> TrainerState:
    meta = json.loads((path / STATE_FILE).read_text())
    return TrainerState(int(meta["step"]), meta["data"], int(meta["tokens"]))


def load_training_state(model, optimizer, path: Path) -> TrainerState:
    """Restore parameters and AdamW moments (any wrapping, see `gather_state`); returns the trainer state."""
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    weights = load_file(str(path / "model.safetensors"))
    if model.config.tie_word_embeddings and "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]  # saved once when tied
    set_model_state_dict(model, weights, options=_options())
    meta = json.loads((path / STATE_FILE).read_text())
    if not (path / OPTIM_FILE).is_file():  # a kept checkpoint (`recipe_keep`): weights and state, no moments
        logger.warning("%s has no %s: the AdamW moments start from zero at step %d", path, OPTIM_FILE,
                       int(meta["step"]))
        return read_state(path)
    per_param: dict[str, dict] = {}
    for key, value in load_file(str(path / OPTIM_FILE)).items():
        name, k = key.split("::")
        per_param.setdefault(name, {})[k] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    set_optimizer_state_dict(model, optimizer, {"state": per_param, "param_groups": groups}, options=_options())
    return read_state(path)
