"""One validation of generation settings, shared by the CLI, the Python API, the official API and the server.

    s = validate_generation_settings(temperature=0.8, top_p=0.95, max_new_tokens=60, seed=0)
    s.do_sample         -> True   (a sampling setting was given, so sampling is on)
    s.generate_kwargs() -> {"do_sample": True, "temperature": 0.8, "top_p": 0.95}

Each setting is checked for its type (a bool is not a number, "5" is not an integer), for NaN and
infinity, and for its range; the error names the setting, the value and the valid range. Sampling
settings (temperature, top_p, top_k, typical_p) switch sampling on when `do_sample` is not given, and
are refused next to an explicit `do_sample=False`, where they would be ignored without a word.
Other `transformers.GenerationConfig` fields pass through unchecked; unknown names are refused.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields

from ..errors import InvalidSetting

MAX_SEED = 2**32 - 1  # numpy's seed range, which transformers.set_seed also feeds
MAX_BEAMS = 64
MAX_NEW_TOKENS = 1_000_000  # a sanity bound; the model's context is checked against the prompt separately
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "typical_p")


def _describe(value) -> str:
    return f"{type(value).__name__} {value!r:.40}"


def _int(name: str, value, lo: int, hi: int | None = None):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidSetting(f"{name} must be an integer, got {_describe(value)}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise InvalidSetting(f"{name} must be an integer {bound}, got {value}")
    return value


def _float(name: str, value, lo: float, hi: float | None, lo_open: bool, rule: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidSetting(f"{name} must be a number ({rule}), got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidSetting(f"{name} must be a finite number ({rule}), got {value}")
    if value < lo or (lo_open and value == lo) or (hi is not None and value > hi):
        raise InvalidSetting(f"{name} must be {rule}, got {value:g}")
    return value


def _bool(name: str, value):
    if value is None or isinstance(value, bool):
        return value
    if getattr(getattr(value, "dtype", None), "kind", None) == "b" and getattr(value, "ndim", 1) == 0:
        return bool(value)  # a numpy bool
    raise InvalidSetting(f"{name} must be true or false, got {_describe(value)}")


@dataclass(frozen=True)
class GenerationSettings:
    """Checked settings; None = not given (the pipeline's defaults apply)."""

    do_sample: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    typical_p: float | None = None
    num_beams: int | None = None
    max_new_tokens: int | None = None
    min_new_tokens: int | None = None
    repetition_penalty: float | None = None
    length_penalty: float | None = None
    no_repeat_ngram_size: int | None = None
    seed: int | None = None
    extra: dict = field(default_factory=dict, compare=False)  # other GenerationConfig fields, passed through

    def generate_kwargs(self) -> dict:
        """The `transformers.GenerationConfig` fields that were given (max_new_tokens and seed excluded)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("extra", "max_new_tokens", "seed") and getattr(self, f.name) is not None}
        return out | dict(self.extra)


KNOWN = tuple(f.name for f in fields(GenerationSettings) if f.name != "extra")


def _check_extra(extra: dict) -> dict:
    if not extra:
        return {}
    from transformers import GenerationConfig

    reference = GenerationConfig()
    for key, value in extra.items():
        if not isinstance(key, str) or key.startswith("_") or not hasattr(reference, key) or callable(
                getattr(reference, key)):
            raise InvalidSetting(f"unknown generation setting {key!r}; valid: {', '.join(KNOWN)} (or another "
                                 "transformers.GenerationConfig field)")
        if key == "num_return_sequences" and value not in (None, 1):
            raise InvalidSetting(f"num_return_sequences must be 1 (one answer per prompt), got {value!r}; "
                                 "give the prompt several times to generate_batch instead")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidSetting(f"{key} must be a finite number, got {value}")
    return dict(extra)


def validate_generation_settings(**kwargs) -> GenerationSettings:
    """Check generation settings given by name; raises `InvalidSetting` naming the setting and its valid range."""
    extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in KNOWN}
    do_sample = _bool("do_sample", kwargs.get("do_sample"))
    s = dict(
        temperature=_float("temperature", kwargs.get("temperature"), 0.0, 100.0, True, "> 0 and <= 100"),
        top_p=_float("top_p", kwargs.get("top_p"), 0.0, 1.0, True, "> 0 and <= 1"),
        top_k=_int("top_k", kwargs.get("top_k"), 0),
        typical_p=_float("typical_p", kwargs.get("typical_p"), 0.0, 1.0, True, "> 0 and <= 1"),
        num_beams=_int("num_beams", kwargs.get("num_beams"), 1, MAX_BEAMS),
        max_new_tokens=_int("max_new_tokens", kwargs.get("max_new_tokens"), 1, MAX_NEW_TOKENS),
        min_new_tokens=_int("min_new_tokens", kwargs.get("min_new_tokens"), 0, MAX_NEW_TOKENS),
        repetition_penalty=_float("repetition_penalty", kwargs.get("repetition_penalty"), 0.0, 100.0, True,
                                  "> 0 and <= 100 (1 = no penalty)"),
        length_penalty=_float("length_penalty", kwargs.get("length_penalty"), -100.0, 100.0, False,
                              "between -100 and 100"),
        no_repeat_ngram_size=_int("no_repeat_ngram_size", kwargs.get("no_repeat_ngram_size"), 0),
        seed=_int("seed", kwargs.get("seed"), 0, MAX_SEED),
    )
    sampling = [k for k in SAMPLING_KEYS if s[k] is not None]
    if do_sample is False and sampling:
        verb = "applies" if len(sampling) == 1 else "apply"
        raise InvalidSetting(f"{', '.join(sampling)} {verb} only when sampling: do_sample is false (greedy "
                             "decoding); drop them or set do_sample to true")
    if do_sample is None and sampling:
        do_sample = True
    if s["min_new_tokens"] is not None and s["max_new_tokens"] is not None \
            and s["min_new_tokens"] > s["max_new_tokens"]:
        raise InvalidSetting(f"min_new_tokens ({s['min_new_tokens']}) is larger than max_new_tokens "
                             f"({s['max_new_tokens']})")
    return GenerationSettings(do_sample=do_sample, extra=_check_extra(extra), **s)


def check_config(cfg) -> None:
    """Check the settings held by a `transformers.GenerationConfig` (the official API passes one)."""
    values = {k: getattr(cfg, k, None) for k in KNOWN if k not in ("seed", "do_sample")}
    validate_generation_settings(**{k: v for k, v in values.items() if k not in SAMPLING_KEYS},
                                 do_sample=getattr(cfg, "do_sample", None))
    for k in SAMPLING_KEYS:  # present with defaults in every GenerationConfig: range only, no sampling rule
        validate_generation_settings(**{k: getattr(cfg, k, None)})
