"""What every benchmark shares: the result type, the data selection and the model loading.

A benchmark reads utterances from the corpus manifest (`spiritlm.data.corpus.manifest`), keeps one
split (the held-out `test` split by default: sentences and a speaker never seen in training), takes
the first `limit` records in a fixed order, and returns a `BenchResult`: headline metrics, the number
of items, the config that produced them and one row per item (what was generated, what it scored),
so that any number in a report can be traced back to its examples.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..audio import load_audio
from ..data.corpus.manifest import SPLITS, Utterance, read_manifest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchResult:
    benchmark: str
    metrics: dict[str, float]
    n_items: int
    config: dict
    items: list[dict] = field(default_factory=list, compare=False)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> BenchResult:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown or "benchmark" not in d or "metrics" not in d:
            raise ValueError(f"not a benchmark result: needs benchmark and metrics, unknown keys {sorted(unknown)}")
        return cls(**d)


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.start, 2)


def check_required(config, *names: str) -> None:
    """Raise a clear error for config fields that must be set (model, manifest, ...)."""
    missing = [n for n in names if not getattr(config, n)]
    if missing:
        raise ValueError(f"{type(config).__name__} needs {', '.join(missing)} (e.g. --{missing[0]} PATH)")


def preset_of(cls, presets: dict, name: str, overrides: dict):
    """`cls` preset `name` with `overrides` applied; the error lists the valid names and fields."""
    if name not in presets:
        raise ValueError(f"unknown {cls.__name__} preset {name!r}; valid: {', '.join(presets)}")
    valid = {f.name for f in fields(cls)}
    bad = set(overrides) - valid
    if bad:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(bad)}; valid: {', '.join(sorted(valid))}")
    return cls(**{**asdict(presets[name]), **overrides})


def select_records(manifest: str | os.PathLike, split: str = "test", limit: int | None = None,
                   keep: Callable[[Utterance], bool] | None = None) -> list[Utterance]:
    """Records of one split (manifest order), optionally filtered, at most `limit` of them."""
    if split not in SPLITS and split != "all":
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}, all")
    out = []
    for rec in read_manifest(manifest):
        if (split == "all" or rec.split == split) and (keep is None or keep(rec)):
            out.append(rec)
            if limit is not None and len(out) >= limit:
                break
    if not out:
        raise ValueError(f"no records in split {split!r} of {manifest} (after filtering)")
    return out


def engine_filter(engines: str) -> Callable[[Utterance], bool] | None:
    """Keep only records of these TTS engines ("flite,festival"); "" keeps all. Whisper misreads
    espeak voices far more than the others, so CERs are also worth reading without them."""
    names = {e.strip() for e in engines.split(",") if e.strip()}
    return (lambda rec: rec.engine in names) if names else None


def record_audio(manifest: str | os.PathLike, rec: Utterance) -> np.ndarray:
    """The 16 kHz mono waveform of a record (its path is relative to the manifest's folder)."""
    return load_audio(Path(manifest).parent / rec.audio)


def cut_audio(wav: np.ndarray, start: float, end: float | None = None, sample_rate: int = 16000) -> np.ndarray:
    """Seconds [start, end) of a waveform."""
    a = int(round(start * sample_rate))
    b = len(wav) if end is None else int(round(end * sample_rate))
    return wav[a:b]


def load_spiritlm(model: str):
    """A `SpiritLM` from a checkpoint folder or name (its speech parts load on first use)."""
    from ..generation.pipeline import SpiritLM

    return SpiritLM.from_pretrained(model, device="cpu")


def start_benchmark(config, lm=None, required: tuple[str, ...] = ("manifest",)) -> tuple[object, Timer]:
    """The opening of an LM benchmark: check the `required` config fields (and `model` when no `lm` is
    given), start the clock, load the LM from `config.model` unless one is given. Returns (lm, timer)."""
    check_required(config, *required, *(() if lm is not None else ("model",)))
    timer = Timer()
    return lm or load_spiritlm(config.model), timer


def config_records(config) -> list[Utterance]:
    """The records a config selects: its `manifest`, `split`, `limit` and `engines` filter."""
    return select_records(config.manifest, config.split, config.limit, engine_filter(config.engines))


def batched(items: list, size: int) -> Iterable[list]:
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for i in range(0, len(items), size):
        yield items[i:i + size]


def progress(iterable, total: int | None = None, desc: str = "", enabled: bool = True):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=False)
