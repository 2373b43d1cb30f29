"""Export our checkpoints in Meta's folder layout and file formats (`spiritlm export --format official`).

    >>> from spiritlm.export import export_official
    >>> export_official("spirit-lm-mini-expressive", "/tmp/meta-root")       # doctest: +SKIP
    # /tmp/meta-root/spiritlm_model/spirit-lm-expressive-7b/   config.json, pytorch_model.bin, tokenizer.model, ...
    # /tmp/meta-root/speech_tokenizer/hubert_25hz/, vqvae_f0_quantizer/, style_encoder_w2v2/, hifigan_*/

Then, with Meta's code: ``SPIRITLM_CHECKPOINTS_DIR=/tmp/meta-root`` and
``Spiritlm("spirit-lm-expressive-7b")`` (its code accepts only Meta's two folder names, so the LM
folder is named after the variant). `export_lm` and `export_speech` write one side each.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .lm import LMExport, export_lm
from .speech import SpeechExport, export_speech

FORMATS = ("official",)


@dataclass(frozen=True)
class Export:
    lm: LMExport
    speech: SpeechExport | None


def _speech_root(lm_dir: Path) -> Path | None:
    root = lm_dir.parent.parent  # <root>/spiritlm_model/<name>
    return root if (root / "speech_tokenizer").is_dir() else None


def export_official(src: str | os.PathLike, dst: str | os.PathLike, speech_root: str | os.PathLike | None = None,
                    format: str = "official") -> Export:
    """LM `src` (a folder or a name) and its speech side -> a checkpoints root `dst` in Meta's format.

    The speech side is `speech_root`, else the root the LM folder sits in (`<root>/spiritlm_model/<name>`);
    only the variant the LM needs (Base or Expressive) is written.
    """
    from ..checkpoints import resolve_lm_dir

    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; valid: {', '.join(FORMATS)}")
    lm = export_lm(src, dst)
    root = Path(speech_root) if speech_root is not None else _speech_root(resolve_lm_dir(src))
    if root is None:
        return Export(lm, None)
    variant = "expressive" if lm.layout.is_expressive else "base"
    return Export(lm, export_speech(root, dst, (variant,)))


__all__ = ["Export", "FORMATS", "LMExport", "SpeechExport", "export_lm", "export_official", "export_speech"]
