"""What the small tokenizer trainers (`train style`, `train vqvae`, `train kmeans`, `train hubert`) share.

A trainer run lives in one folder: `state.pt` holds what a resumed run needs (model and optimizer
state, the step, the logged history, plus trainer-specific entries), `log.jsonl` gets one JSON
line per logged step. A run resumes by loading `state.pt` if it is there; the step count then
continues from the saved one and new log lines are appended. The command-line options of a trainer
are its config's fields (`--segment-seconds 1.5` overrides `segment_seconds` of the chosen preset).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

logger = logging.getLogger(__name__)

OPTION_TYPES = {"int": int, "float": float, "str": str}


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch intra-op threads set to `n` inside the block (0: left as is); the previous count is restored."""
    import torch

    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resume_state(state_path: Path, model, opt, check: Callable[[dict], None] | None = None
                 ) -> tuple[int, list[dict], dict | None]:
    """(step, history, state) of a saved run, its model and optimizer loaded; (0, [], None) without one.

    `check` sees the state before anything is loaded (to refuse a run trained on other data)."""
    if not state_path.is_file():
        return 0, [], None
    import torch

    state = torch.load(state_path, map_location="cpu", weights_only=True)
    if check is not None:
        check(state)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    step = int(state["step"])
    logger.info("resumed %s at step %d", state_path.parent, step)
    return step, json.loads(state["history"]), state


def save_state(state_path: Path, model, opt, step: int, history: list[dict], **extra) -> None:
    """Write what `resume_state` reads, plus trainer-specific `extra` entries (tensors or strings)."""
    import torch

    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "history": json.dumps(history), **extra}, state_path)


def log_record(log, history: list[dict], rec: dict) -> None:
    """Append a logged step to the history and as one line to the open log.jsonl."""
    history.append(rec)
    log.write(json.dumps(rec) + "\n")
    log.flush()


def add_config_options(p, cls, skip: tuple[str, ...], types: dict = OPTION_TYPES, preset=None) -> None:
    """An argparse option per field of the config class `cls` (`--field-name`), except `skip` and fields whose
    type is not in `types`; with a `preset` config the help text gives its value."""
    for f in fields(cls):
        if f.name not in skip and f.type in types:
            help_text = f"overrides the preset (mini: {getattr(preset, f.name)})" if preset is not None else None
            p.add_argument("--" + f.name.replace("_", "-"), type=types[f.type], dest=f.name, help=help_text)


def config_overrides(args, cls, skip: tuple[str, ...]) -> dict:
    """The config fields given on the command line (options left unset are None and not returned)."""
    names = {f.name for f in fields(cls)} - set(skip)
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def register_trainer(sub, name: str, help: str, cls, train, manifest_help: str, out_help: str) -> None:
    """`spiritlm train <name> MANIFEST --out OUT [--preset tiny|mini] [--<field> ...]` for a trainer whose
    frozen config `cls` has `manifest`, `out_dir` and a `preset(name, **overrides)` classmethod; prints the
    trainer's result as JSON."""
    import json

    p = sub.add_parser(name, help=help)
    p.add_argument("manifest", help=manifest_help)
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--preset", default="mini", help="tiny or mini (default mini)")
    skip = ("manifest", "out_dir")
    add_config_options(p, cls, skip, preset=cls.preset("mini"))

    def run(args) -> int:
        cfg = cls.preset(args.preset, manifest=args.manifest, out_dir=args.out, **config_overrides(args, cls, skip))
        print(json.dumps(train(cfg)))
        return 0

    p.set_defaults(func=run)
