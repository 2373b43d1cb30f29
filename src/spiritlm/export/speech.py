"""Our speech parts, rewritten as Meta's `speech_tokenizer/` folders.

Meta's factories read fixed paths and fixed settings, so each part is reshaped to fit them:

- `hubert_25hz/mhubert_base_25hz.pt`: Meta's code takes the features after layer 11, or after the last
  layer of a smaller model; the export writes our HuBERT cut after its quantized layer.
- `hubert_25hz/L11_quantizer_500.pt`: Linear-LeakyReLU-Linear-LeakyReLU-Linear, argmax; a linear
  quantizer is written as is, k-means as an exact MLP.
- `vqvae_f0_quantizer/` (`config.yaml` + `model.pt` {"model"}) and `style_encoder_w2v2/` (HF wav2vec2
  classifier, `pytorch_model.bin`): the VQ-VAE and the classifier as they are.
- `hifigan_*/` (`generator.pt` {"generator"}): Meta's code uses speaker 2 and (Base) style 8 unless
  told otherwise, so our default voice is moved to row 2 and our default style to row 8.

Each part is read through its door (`load`) and written with `save(path, format="official")`; a k-means
quantizer becomes an exact linear quantizer (`speech.quantizer.kmeans_as_linear`).

A spectral vocoder (Griffin-Lim head) has no counterpart in Meta's code: its HiFi-GAN (the same
embeddings and duration predictor, trained first) is what the export writes, and the sound differs.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..speech.bundle import SpeechSpec, has_bundle, read_spec

logger = logging.getLogger(__name__)

HUBERT_FILE = "hubert_25hz/mhubert_base_25hz.pt"
QUANTIZER_FILE = "hubert_25hz/L11_quantizer_500.pt"
PITCH_DIR, STYLE_DIR = "vqvae_f0_quantizer", "style_encoder_w2v2"
VOCODER_DIRS = {"base": "hifigan_spiritlm_base", "expressive": "hifigan_spiritlm_expressive_w2v2"}
OFFICIAL_SPEAKER, OFFICIAL_STYLE = 2, 8


@dataclass(frozen=True)
class SpeechExport:
    folder: Path
    written: tuple[str, ...]  # paths relative to `folder`
    notes: tuple[str, ...]  # what differs from the source in the official code's hands


def _hubert(root: Path, spec: SpeechSpec, out: Path) -> str:
    from ..speech import hubert

    model = hubert.load(root / spec.hubert, spec.layer)
    if isinstance(model, hubert.PhoneEncoder):
        raise ValueError(f"{root / spec.hubert} is our phone encoder, which has no counterpart in Meta's code")
    model.save(out / HUBERT_FILE, format="official", dictionaries=[[str(i) for i in range(500)]])
    return HUBERT_FILE


def _quantizer(root: Path, spec: SpeechSpec, out: Path) -> str:
    from ..speech import quantizer

    quantizer.load(root / spec.quantizer).save(out / QUANTIZER_FILE, format="official")
    return QUANTIZER_FILE


def _pitch(root: Path, spec: SpeechSpec, out: Path) -> str:
    from ..speech import pitch

    pitch.load(root / spec.pitch).save(out / PITCH_DIR, format="official")
    return PITCH_DIR


def _style(root: Path, spec: SpeechSpec, out: Path, notes: list[str]) -> str:
    from ..speech import style

    tok = style.load(root / spec.style)
    if tok.config != style.StyleConfig():
        notes.append(f"style: the official encoder pools 50 frames with normalisation; ours uses {tok.config}")
    tok.save(out / STYLE_DIR, format="official")
    return STYLE_DIR


def _move_row(weight: torch.Tensor, src: int, dst: int, min_rows: int) -> torch.Tensor:
    """Pad to `min_rows` with copies of row `src`, then swap rows `src` and `dst`."""
    w = weight.detach().clone()
    if w.shape[0] < min_rows:
        w = torch.cat([w, w[src:src + 1].expand(min_rows - w.shape[0], -1)])
    w[[src, dst]] = w[[dst, src]]
    return w


def _names(names: list[str] | None, n: int, src: int, dst: int, prefix: str) -> list[str]:
    names = list(names or [f"{prefix}{i}" for i in range(n)])
    names += [names[src]] * (n - len(names))
    names[src], names[dst] = names[dst], names[src]
    return names


def _vocoder(root: Path, rel: str, variant: str, out: Path, notes: list[str]) -> str:
    from ..vocoder import load_vocoder
    from ..vocoder.convert import save_official

    voc = load_vocoder(root / rel)
    if hasattr(voc, "head"):
        notes.append(f"{variant} vocoder: a spectral vocoder; Meta's code runs its HiFi-GAN, not the Griffin-Lim head")
    cfg, sd = voc.config, dict(voc.model.state_dict())
    speakers, styles = voc.speakers, voc.styles
    if cfg.num_speakers:
        spk = voc.speaker_index()
        n = max(cfg.num_speakers, OFFICIAL_SPEAKER + 1)
        sd["speaker_embed.weight"] = _move_row(sd["speaker_embed.weight"], spk, OFFICIAL_SPEAKER, n)
        speakers = _names(speakers, n, spk, OFFICIAL_SPEAKER, "speaker")
        cfg = replace(cfg, num_speakers=n)
    if cfg.num_styles:
        sty = voc.style_index()
        n = max(cfg.num_styles, OFFICIAL_STYLE + 1)
        sd["global_style_embed.weight"] = _move_row(sd["global_style_embed.weight"], sty, OFFICIAL_STYLE, n)
        styles = _names(styles, n, sty, OFFICIAL_STYLE, "style")
        cfg = replace(cfg, num_styles=n)
    folder = VOCODER_DIRS[variant]
    save_official(out / folder, cfg, sd, speakers, styles)
    return folder


def _copy_official(root: Path, out: Path) -> list[str]:
    """A root already in Meta's format: copy its speech folders as they are."""
    src = root / "speech_tokenizer"
    written = []
    for name in ("hubert_25hz", PITCH_DIR, STYLE_DIR, *VOCODER_DIRS.values()):
        if (src / name).is_dir():
            shutil.copytree(src / name, out / name, dirs_exist_ok=True)
            written.append(name)
    return written


def export_speech(root: str | Path, dst_root: str | Path, variants: tuple[str, ...] = ("base", "expressive")
                  ) -> SpeechExport:
    """Write `<dst_root>/speech_tokenizer/` for the given variants of the checkpoints root `root`."""
    root, out = Path(root), Path(dst_root) / "speech_tokenizer"
    out.mkdir(parents=True, exist_ok=True)
    if not has_bundle(root):
        if not (root / "speech_tokenizer").is_dir():
            raise FileNotFoundError(f"no speech side under {root}: expected speech_tokenizer/speech.json (ours) "
                                    "or Meta's speech_tokenizer/ folders")
        return SpeechExport(out, tuple(_copy_official(root, out)), ())
    base = root / "speech_tokenizer"
    specs = {v: read_spec(root, v) for v in variants}
    first = next(iter(specs.values()))
    if any((s.hubert, s.quantizer, s.layer) != (first.hubert, first.quantizer, first.layer) for s in specs.values()):
        raise ValueError("Meta's layout has one HuBERT and one quantizer for both variants; this bundle's differ")
    notes: list[str] = []
    written = [_hubert(base, first, out), _quantizer(base, first, out)]
    for variant, spec in specs.items():
        if spec.pitch:
            written.append(_pitch(base, spec, out))
        if spec.style:
            written.append(_style(base, spec, out, notes))
        if spec.vocoder:
            written.append(_vocoder(base, spec.vocoder, variant, out, notes))
    for note in notes:
        logger.warning("export: %s", note)
    return SpeechExport(out, tuple(dict.fromkeys(written)), tuple(notes))
