"""Our own speech side of a checkpoints root: which trained parts make each variant's tokenizer.

Meta's root has fixed file names (`hubert_25hz/mhubert_base_25hz.pt`, ...). Ours trains its parts
in our formats (safetensors + config.json folders) and lists them in
`<root>/speech_tokenizer/speech.json`, paths relative to that folder::

    {"format": "spiritlm-speech/1",
     "base":       {"hubert": "hubert", "layer": 6, "quantizer": "quantizer", "vocoder": "vocoder-base"},
     "expressive": {"hubert": "hubert", "layer": 6, "quantizer": "quantizer", "pitch": "pitch",
                    "style": "style", "vocoder": "vocoder-expressive"}}

Both variants share the HuBERT and its quantizer, so a bundle stores them once. Each part loads
through its own door (`hubert.load`, `quantizer.load`, `pitch.load`, `style.load`, `vocoder.load_vocoder`),
once per tokenizer.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

SPEECH_JSON = "speech.json"
FORMAT = "spiritlm-speech/1"
VARIANTS = ("base", "expressive")


@dataclass(frozen=True)
class SpeechSpec:
    hubert: str
    quantizer: str
    vocoder: str | None = None
    layer: int | None = None  # None: the HuBERT's last layer
    pitch: str | None = None
    style: str | None = None


def speech_json(root: str | os.PathLike) -> Path:
    return Path(root) / "speech_tokenizer" / SPEECH_JSON


def has_bundle(root: str | os.PathLike) -> bool:
    return speech_json(root).is_file()


def write_specs(root: str | os.PathLike, specs: dict[str, SpeechSpec]) -> Path:
    unknown = set(specs) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; valid: {', '.join(VARIANTS)}")
    path = speech_json(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"format": FORMAT, **{k: {f: v for f, v in asdict(s).items() if v is not None} for k, s in specs.items()}}
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def read_spec(root: str | os.PathLike, variant: str) -> SpeechSpec:
    path = speech_json(root)
    if not path.is_file():
        raise FileNotFoundError(f"no {SPEECH_JSON} in {path.parent}")
    body = json.loads(path.read_text())
    if body.get("format") != FORMAT:
        raise ValueError(f"{path} has format {body.get('format')!r}, expected {FORMAT!r}")
    if variant not in body:
        present = [v for v in VARIANTS if v in body]
        raise ValueError(f"{path} has no {variant!r} speech side; it has: {', '.join(present) or 'none'}")
    return SpeechSpec(**body[variant])


def _part(root: str | os.PathLike, rel: str) -> Path:
    p = Path(root) / "speech_tokenizer" / rel
    if not p.exists():
        raise FileNotFoundError(f"speech part {rel!r} listed in {speech_json(root)} is missing ({p})")
    return p


def load_encoder(root: str | os.PathLike, variant: str = "base", device: str = "cpu"):
    """The `SpeechTokenizer` (HuBERT + quantizer [+ pitch + style]) of a variant: each part's door once."""
    from . import hubert, pitch, quantizer, style
    from .tokenizer import SpeechTokenizer

    spec = read_spec(root, variant)
    return SpeechTokenizer(hubert.load(_part(root, spec.hubert), spec.layer),
                           quantizer.load(_part(root, spec.quantizer)),
                           pitch=pitch.load(_part(root, spec.pitch), device=device) if spec.pitch else None,
                           style=style.load(_part(root, spec.style), device=device) if spec.style else None,
                           device=device)


def load_bundle_vocoder(root: str | os.PathLike, variant: str = "base", device: str = "cpu"):
    from ..vocoder import load_vocoder

    spec = read_spec(root, variant)
    if not spec.vocoder:
        raise FileNotFoundError(f"{speech_json(root)} lists no vocoder for {variant!r}")
    return load_vocoder(_part(root, spec.vocoder), device=device)


def base_encoder(root: str) -> object:
    """Factory for `spiritlm data units --encoder spiritlm.speech.bundle:base_encoder --encoder-arg ROOT`."""
    return load_encoder(root, "base")


def expressive_encoder(root: str) -> object:
    return load_encoder(root, "expressive")


def inventory(root: str | os.PathLike, variant: str = "base") -> dict[str, int]:
    """How many distinct units each stream of a variant can emit (sizes the LM's token layout)."""
    from . import pitch, quantizer, style

    spec = read_spec(root, variant)
    sizes = {"n_hubert": int(quantizer.load(_part(root, spec.quantizer)).n_units)}
    if spec.pitch:
        sizes["n_pitch"] = int(pitch.load(_part(root, spec.pitch)).config.vqvae.vq.l_bins)
    if spec.style:
        sizes["n_style"] = len(style.load(_part(root, spec.style)).labels)
    return sizes
