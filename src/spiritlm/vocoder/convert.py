"""Official checkpoint <-> our state dict, and the two folder formats a vocoder loads from.

Official folder (`hifigan_spiritlm_base/`, `hifigan_spiritlm_expressive_w2v2/`)::

    config.json   speech-resynthesis model keys (see `VocoderConfig.from_official`)
    generator.pt  {"generator": state_dict}; convs carry weight norm as `weight_g` + `weight_v`
                  (old torch API) or `parametrizations.weight.original0/1` (new API)
    speakers.txt  one speaker name per line, line index = speaker id
    styles.txt    one style name per line (Base)

Our folder: `config.json` (`{"format": "spiritlm-vocoder", "config": {...}}`) + `model.safetensors`
(weight norm already folded) + the same optional name lists.

Weight norm writes a weight as ``w = g * v / ||v||`` (norm over every axis but 0), so folding it
is one line; splitting it back picks ``v = w`` and ``g = ||w||``. Key renaming is a prefix table,
in both directions, and an unknown key is an error rather than a silently random weight.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from .config import VocoderConfig

OUR_FORMAT = "spiritlm-vocoder"
WEIGHTS_FILE = "model.safetensors"
OFFICIAL_WEIGHTS_FILE = "generator.pt"

# (official prefix, our prefix); matched on whole dotted components, first match wins.
KEY_TABLE: tuple[tuple[str, str], ...] = (
    ("dict.", "unit_embed."),
    ("f0_dict.", "pitch_embed."),
    ("style_dict.", "style_code_embed."),
    ("spkr.", "speaker_embed."),
    ("style.", "global_style_embed."),
    ("dur_predictor.conv1.0.", "duration.conv1."),
    ("dur_predictor.ln1.", "duration.norm1."),
    ("dur_predictor.conv2.0.", "duration.conv2."),
    ("dur_predictor.ln2.", "duration.norm2."),
    ("dur_predictor.proj.", "duration.proj."),
    ("conv_pre.", "stack.conv_pre."),
    ("ups.", "stack.ups."),
    ("resblocks.", "stack.blocks."),
    ("conv_post.", "stack.conv_post."),
)
_WN_OLD = re.compile(r"^(.*)\.weight_(g|v)$")
_WN_NEW = re.compile(r"^(.*)\.parametrizations\.weight\.original(0|1)$")


def _rename(key: str, table: tuple[tuple[str, str], ...]) -> str:
    for src, dst in table:
        if key.startswith(src):
            return dst + key[len(src):]
    valid = ", ".join(s.rstrip(".") for s, _ in table)
    raise ValueError(f"unknown vocoder weight {key!r}; known prefixes: {valid}")


def _norm_dims(g: torch.Tensor, v: torch.Tensor) -> list[int]:
    """The axes weight norm reduced over: all but the one axis g keeps (axis 0 when ambiguous)."""
    if g.dim() == 0:
        return list(range(v.dim()))
    kept = [d for d in range(g.dim()) if g.shape[d] != 1] or [0]
    return [d for d in range(v.dim()) if d != kept[0]]


def fold_weight_norm(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every (g, v) pair by the plain weight ``g * v / ||v||``."""
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for k, v in sd.items():
        m = _WN_OLD.match(k) or _WN_NEW.match(k)
        if m:
            part = {"g": "g", "0": "g", "v": "v", "1": "v"}[m.group(2)]
            pairs.setdefault(m.group(1), {})[part] = v
        else:
            out[k] = v
    for base, p in pairs.items():
        if set(p) != {"g", "v"}:
            raise ValueError(f"weight norm of {base!r} is incomplete: found only {sorted(p)}")
        g, v = p["g"].float(), p["v"].float()
        out[base + ".weight"] = v * (g / torch.linalg.vector_norm(v, dim=_norm_dims(g, v), keepdim=True))
    return out


def official_to_ours(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An official generator state dict (weight norm or folded) -> ours (folded)."""
    return {_rename(k, KEY_TABLE): v.float() for k, v in fold_weight_norm(sd).items()}


def ours_to_official(sd: dict[str, torch.Tensor], weight_norm: bool = True) -> dict[str, torch.Tensor]:
    """Ours -> official keys; conv weights of the HiFi-GAN stack are split into weight_g/weight_v."""
    table = tuple((dst, src) for src, dst in KEY_TABLE)
    out: dict[str, torch.Tensor] = {}
    for k, v in fold_weight_norm(sd).items():
        name = _rename(k, table)
        if weight_norm and k.startswith("stack.") and k.endswith(".weight"):
            base = name[: -len(".weight")]
            out[base + ".weight_g"] = torch.linalg.vector_norm(v, dim=list(range(1, v.dim())), keepdim=True)
            out[base + ".weight_v"] = v.clone()
        else:
            out[name] = v
    return out


def read_names(path: Path) -> list[str] | None:
    """speakers.txt / styles.txt: one name per line (index = id); None if absent."""
    if not path.exists():
        return None
    return [line.strip() for line in path.read_text().splitlines()]


def load_folder(folder: str | Path) -> tuple[VocoderConfig, dict[str, torch.Tensor], bool]:
    """Read either folder format -> (config, our state dict, is_official)."""
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"no config.json in vocoder folder {folder}")
    raw = json.loads(cfg_path.read_text())
    if raw.get("format") == OUR_FORMAT:
        from safetensors.torch import load_file

        weights = folder / WEIGHTS_FILE
        if not weights.exists():
            raise FileNotFoundError(f"{folder} has our config.json but no {WEIGHTS_FILE}")
        return VocoderConfig.from_dict(raw["config"]), load_file(str(weights)), False
    weights = folder / OFFICIAL_WEIGHTS_FILE
    if not weights.exists():
        raise FileNotFoundError(f"{folder} has neither {WEIGHTS_FILE} (ours) nor {OFFICIAL_WEIGHTS_FILE} (official)")
    from ..torch_files import load_torch_file

    ckpt = load_torch_file(weights, "the vocoder weights")
    if not isinstance(ckpt, dict) or "generator" not in ckpt:
        raise ValueError(f"{weights} is not an official vocoder checkpoint: expected a dict with key 'generator'")
    return VocoderConfig.from_official(raw), official_to_ours(ckpt["generator"]), True


def _write_names(folder: Path, speakers: list[str] | None, styles: list[str] | None) -> None:
    for name, values in (("speakers.txt", speakers), ("styles.txt", styles)):
        if values is not None:
            (folder / name).write_text("".join(f"{v}\n" for v in values))


def save_folder(folder: str | Path, cfg: VocoderConfig, sd: dict[str, torch.Tensor],
                speakers: list[str] | None = None, styles: list[str] | None = None) -> Path:
    """Write our format: config.json + model.safetensors (+ name lists)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().float().contiguous() for k, v in fold_weight_norm(sd).items()}
    save_file(sd, str(folder / WEIGHTS_FILE))
    (folder / "config.json").write_text(json.dumps({"format": OUR_FORMAT, "config": cfg.to_dict()}, indent=1))
    _write_names(folder, speakers, styles)
    return folder


def save_official(folder: str | Path, cfg: VocoderConfig, sd: dict[str, torch.Tensor],
                  speakers: list[str] | None = None, styles: list[str] | None = None) -> Path:
    """Write the official format: config.json + generator.pt ({"generator": weight-norm state dict})."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"generator": ours_to_official(sd)}, folder / OFFICIAL_WEIGHTS_FILE)
    (folder / "config.json").write_text(json.dumps(cfg.to_official(), indent=1))
    _write_names(folder, speakers, styles)
    return folder
