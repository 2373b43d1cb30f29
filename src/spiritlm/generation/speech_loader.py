"""Find the speech tokenizer and vocoder that belong to an LM checkpoint.

A checkpoints root in the official layout holds both sides::

    <root>/spiritlm_model/<lm-name>/        the LM
    <root>/speech_tokenizer/hubert_25hz/ ... the speech parts

The root is the LM folder's grandparent when that has a `speech_tokenizer/` folder (Meta's download,
our shipped bundles), else ``$SPIRITLM_CHECKPOINTS_DIR``. A root with `speech_tokenizer/speech.json`
holds our own trained parts (`spiritlm.speech.bundle`); otherwise Meta's files are read through the
official factories. The encoder loads when audio is first encoded, the vocoder when audio is first
synthesized.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..checkpoints import checkpoints_root
from ..units import SpeechUnits

logger = logging.getLogger(__name__)


def speech_root_for(lm_path: Path) -> Path:
    candidate = Path(lm_path).resolve().parent.parent
    return candidate if (candidate / "speech_tokenizer").is_dir() else checkpoints_root()


class LazyVocoder:
    """A vocoder built by `load()` on the first synthesis."""

    sample_rate = 16000

    def __init__(self, load: Callable[[], object]):
        self._load, self._vocoder = load, None

    def synthesize(self, units: SpeechUnits, speaker_id=None) -> np.ndarray:
        if self._vocoder is None:
            self._vocoder = self._load()
        return self._vocoder.synthesize(units, speaker_id=speaker_id)


class LazyEncoder:
    """A speech encoder built by `load()` on the first encoding."""

    def __init__(self, load: Callable[[], object], is_expressive: bool):
        self._load, self._encoder, self.is_expressive = load, None, is_expressive

    def encode_units(self, wav: np.ndarray) -> SpeechUnits:
        if self._encoder is None:
            self._encoder = self._load()
        return self._encoder.encode_units(wav)


def official_speech_tokenizer(lm, **kwargs):
    """`spiritlm_base(**kwargs)` or `spiritlm_expressive(**kwargs)` for this LM's variant and root."""
    from ..speech import bundle
    from ..speech_tokenizer import SpiritLMTokenizer, spiritlm_base, spiritlm_expressive

    kwargs.setdefault("root", speech_root_for(lm.path))
    if bundle.has_bundle(kwargs["root"]):  # our own parts, wrapped in the official object
        root, device = kwargs["root"], kwargs.get("device", "cpu")
        spec = bundle.read_spec(root, lm.variant)
        vocoder = Path(root) / "speech_tokenizer" / spec.vocoder if spec.vocoder else None
        return SpiritLMTokenizer(bundle.load_encoder(root, lm.variant, device), vocoder,
                                 kwargs.get("default_speaker", 2), kwargs.get("default_style"), 71, device)
    factory = spiritlm_expressive if lm.layout.is_expressive else spiritlm_base
    logger.info("loading the %s speech tokenizer from %s", lm.variant, kwargs["root"])
    return factory(**kwargs)


def default_speech_loader(device: str = "cpu", **kwargs):
    """A `SpeechLoader` for `SpiritLM`: (encoder, vocoder) from our bundle or the official factories."""

    def load(lm):
        from ..speech import bundle

        root = speech_root_for(lm.path)
        if bundle.has_bundle(root):
            variant = lm.variant
            spec = bundle.read_spec(root, variant)
            return (LazyEncoder(lambda: bundle.load_encoder(root, variant, device), spec.pitch is not None),
                    LazyVocoder(lambda: bundle.load_bundle_vocoder(root, variant, device)))
        tok = official_speech_tokenizer(lm, device=device, **kwargs)
        return tok.tokenizer, LazyVocoder(lambda: tok.vocoder)

    return load
