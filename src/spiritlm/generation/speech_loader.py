"""Find the speech tokenizer and vocoder that belong to an LM checkpoint.

A checkpoints root in the official layout holds both sides::

    <root>/spiritlm_model/<lm-name>/        the LM
    <root>/speech_tokenizer/hubert_25hz/ ... the speech parts

The root is the LM folder's grandparent when that has a `speech_tokenizer/` folder (Meta's download,
our shipped bundles), else ``$SPIRITLM_CHECKPOINTS_DIR``. Nothing is loaded until generation first
needs speech, and the vocoder not until audio is first synthesized.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..checkpoints import checkpoints_root
from ..units import SpeechUnits

logger = logging.getLogger(__name__)


def speech_root_for(lm_path: Path) -> Path:
    candidate = Path(lm_path).resolve().parent.parent
    return candidate if (candidate / "speech_tokenizer").is_dir() else checkpoints_root()


class LazyVocoder:
    """The official tokenizer object's vocoder, loaded on the first synthesis."""

    sample_rate = 16000

    def __init__(self, official_tokenizer):
        self._tok = official_tokenizer

    def synthesize(self, units: SpeechUnits, speaker_id=None) -> np.ndarray:
        return self._tok.vocoder.synthesize(units, speaker_id=speaker_id)


def official_speech_tokenizer(lm, **kwargs):
    """`spiritlm_base(**kwargs)` or `spiritlm_expressive(**kwargs)` for this LM's variant and root."""
    from ..speech_tokenizer import spiritlm_base, spiritlm_expressive

    kwargs.setdefault("root", speech_root_for(lm.path))
    factory = spiritlm_expressive if lm.layout.is_expressive else spiritlm_base
    logger.info("loading the %s speech tokenizer from %s", lm.variant, kwargs["root"])
    return factory(**kwargs)


def default_speech_loader(**kwargs):
    """A `SpeechLoader` for `SpiritLM`: (encoder, vocoder) from the official factories."""

    def load(lm):
        tok = official_speech_tokenizer(lm, **kwargs)
        return tok.tokenizer, LazyVocoder(tok)

    return load
