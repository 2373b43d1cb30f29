"""The official factories, reading the official checkpoint layout::

    $SPIRITLM_CHECKPOINTS_DIR/speech_tokenizer/          (default ./checkpoints/speech_tokenizer)
        hubert_25hz/{mhubert_base_25hz.pt, L11_quantizer_500.pt}
        vqvae_f0_quantizer/{config.yaml, model.pt}
        style_encoder_w2v2/{config.json, pytorch_model.bin}
        hifigan_spiritlm_base/, hifigan_spiritlm_expressive_w2v2/

Every factory also takes `root=` (a checkpoints root) and explicit per-file paths, and builds new
objects on each call (no module-level singletons; a caller that wants sharing keeps the object).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..checkpoints import speech_dir
from ..speech import hubert, quantizer
from ..speech.tokenizer import SpeechTokenizer
from .spiritlm_tokenizer import HubertTokenizer, SpiritLMTokenizer

PathLike = str | os.PathLike

HUBERT_DIR = "hubert_25hz"
HUBERT_FILE = "mhubert_base_25hz.pt"
QUANTIZER_FILE = "L11_quantizer_500.pt"
F0_DIR = "vqvae_f0_quantizer"
STYLE_DIR = "style_encoder_w2v2"
HIFIGAN_BASE_DIR = "hifigan_spiritlm_base"
HIFIGAN_EXPRESSIVE_DIR = "hifigan_spiritlm_expressive_w2v2"
F0_BACKBONES = ("fcpe", "pyaapt")


def _hubert_tokenizer(root: PathLike | None, hubert_path: PathLike | None, quantizer_path: PathLike | None,
                      layer: int, device: str, compat: bool, pitch=None, style=None) -> SpeechTokenizer:
    hub = Path(hubert_path) if hubert_path else speech_dir(HUBERT_DIR, root) / HUBERT_FILE
    qnt = Path(quantizer_path) if quantizer_path else speech_dir(HUBERT_DIR, root) / QUANTIZER_FILE
    for p, what in ((hub, "HuBERT checkpoint"), (qnt, "HuBERT quantizer")):
        if not p.exists():
            raise FileNotFoundError(f"{what} not found at {p}; set $SPIRITLM_CHECKPOINTS_DIR, root=, or pass the path")
    return SpeechTokenizer(hubert.load(hub, layer), quantizer.load(qnt, compat=compat), pitch=pitch, style=style,
                           device=device)


def spiritlm_hubert(root: PathLike | None = None, *, hubert_path: PathLike | None = None,
                    quantizer_path: PathLike | None = None, layer: int = 11, device: str = "cpu",
                    compat: bool = False) -> HubertTokenizer:
    """HuBERT layer-11 features + the linear quantizer (`compat=True`: the official blank fill)."""
    return HubertTokenizer(_hubert_tokenizer(root, hubert_path, quantizer_path, layer, device, compat))


def spiritlm_base(default_speaker: int = 2, default_style: int = 8, *, root: PathLike | None = None,
                  hubert_path: PathLike | None = None, quantizer_path: PathLike | None = None,
                  vocoder_path: PathLike | None = None, device: str = "cpu", compat: bool = False,
                  missing_style: int | str | None = 71) -> SpiritLMTokenizer:
    """The Base tokenizer (HuBERT units) and its vocoder (loaded on the first `decode`)."""
    tok = _hubert_tokenizer(root, hubert_path, quantizer_path, 11, device, compat)
    voc = vocoder_path or speech_dir(HIFIGAN_BASE_DIR, root)
    return SpiritLMTokenizer(tok, voc, default_speaker, default_style, missing_style, device, compat)


def spiritlm_expressive(f0_backbone: str = "fcpe", default_speaker: int = 2, *, root: PathLike | None = None,
                        hubert_path: PathLike | None = None, quantizer_path: PathLike | None = None,
                        f0_path: PathLike | None = None, style_path: PathLike | None = None,
                        vocoder_path: PathLike | None = None, pitch=None, style=None, device: str = "cpu",
                        compat: bool = False, missing_style: int | str | None = 71) -> SpiritLMTokenizer:
    """The Expressive tokenizer: HuBERT + pitch (F0 VQ-VAE) + style; `pitch=`/`style=` take ready objects."""
    if f0_backbone not in F0_BACKBONES:
        raise ValueError(f"unknown f0_backbone {f0_backbone!r}; valid: {', '.join(F0_BACKBONES)}")
    if pitch is None:
        from ..speech import pitch as pitch_part

        f0_dir = Path(f0_path or speech_dir(F0_DIR, root))
        # Meta's folder: the backbone is the caller's choice; ours keeps the extractor it was trained with
        pitch = pitch_part.load(f0_dir, f0_method=f0_backbone if pitch_part.is_official(f0_dir) else None,
                                device=device)
    if style is None:
        from ..speech import style as style_part

        style = style_part.load(style_path or speech_dir(STYLE_DIR, root), device=device)
    tok = _hubert_tokenizer(root, hubert_path, quantizer_path, 11, device, compat, pitch, style)
    voc = vocoder_path or speech_dir(HIFIGAN_EXPRESSIVE_DIR, root)
    return SpiritLMTokenizer(tok, voc, default_speaker, None, missing_style, device, compat)
