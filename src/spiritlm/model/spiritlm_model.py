"""The official `spiritlm.model.spiritlm_model` API, on top of `spiritlm.generation`.

Code written for Meta's release runs unchanged::

    from spiritlm.model.spiritlm_model import Spiritlm, OutputModality, GenerationInput, ContentType
    spirit_lm = Spiritlm("spirit-lm-base-7b")
    outputs = spirit_lm.generate(
        output_modality=OutputModality.TEXT,
        interleaved_inputs=[GenerationInput(content="The largest country in the world is",
                                            content_type=ContentType.TEXT)],
        generation_config=GenerationConfig(temperature=0.9, top_p=0.95, max_new_tokens=50, do_sample=True))

Defaults follow our fixes (speech turns end by themselves, ids are sliced, no random style); pass
`compat=True` to `generate` for the official behaviour exactly.
"""

from __future__ import annotations

import logging
import os
from enum import Enum

from ..generation.pipeline import SpiritLM
from ..generation.speech_loader import LazyVocoder, official_speech_tokenizer
from ..generation.types import (
    ContentType,
    GenerationInput,
    GenerationOuput,
    GenerationOutput,
    InterleavedInputs,
    InterleavedOutputs,
    OutputModality,
)
from ..model.utils import parse_speech_and_text
from ..vocab import SPEECH_MARKER, TEXT_MARKER

logger = logging.getLogger(__name__)

__all__ = ["Spiritlm", "SpiritlmVariants", "OutputModality", "ContentType", "GenerationInput", "GenerationOutput",
           "GenerationOuput", "InterleavedInputs", "InterleavedOutputs"]


class SpiritlmVariants(Enum):
    BASE_7B = "spirit-lm-base-7b"
    EXPRESSIVE_7B = "spirit-lm-expressive-7b"
    EXPRESSIVIE_7B = "spirit-lm-expressive-7b"  # the official (misspelled) name, an alias


class Spiritlm:
    """Official-style wrapper: `Spiritlm(name, **speech_tokenizer_kwargs)`; any checkpoint folder works."""

    TEXT_PROMPT_PREFIX = TEXT_MARKER
    SPEECH_PROMPT_PREFIX = SPEECH_MARKER

    def __init__(self, name: str | os.PathLike, device: str | None = None, **speech_tokenizer_kwargs):
        self._official_tokenizer = None
        self._speech_kwargs = speech_tokenizer_kwargs
        self._spirit = SpiritLM.from_pretrained(name, device=device, speech_loader=self._load_speech)
        self.model = self._spirit.model
        self.tokenizer = self._spirit.tokenizer
        self.device = self._spirit.device
        self.is_expressive_model = self._spirit.is_expressive

    def _load_speech(self, lm):
        self._official_tokenizer = official_speech_tokenizer(lm, **self._speech_kwargs)
        tok = self._official_tokenizer
        return tok.tokenizer, LazyVocoder(lambda: tok.vocoder)

    @property
    def speech_tokenizer(self):
        """The official-style speech tokenizer object (encode_units, encode_string, decode, ...)."""
        if self._official_tokenizer is None:
            self._spirit.speech_encoder  # loads it, or raises naming what is missing  # noqa: B018
        return self._official_tokenizer

    def _build_prompt(self, generation_inputs: list[GenerationInput], output_modality: OutputModality) -> str:
        return self._spirit.build_prompt(generation_inputs, OutputModality.parse(output_modality)).text

    _parse_speech_and_text = staticmethod(parse_speech_and_text)

    def generate(self, interleaved_inputs=None, prompt: str | None = None,
                 output_modality: OutputModality | str = OutputModality.ARBITRARY, generation_config=None,
                 force_tokens_to_output_modality: bool = True, speaker_id: int = 2, return_prompt: bool = False,
                 seed: int | None = None, compat: bool = False, **kwargs):
        """Official signature. Returns a list of `GenerationOuput` (and the prompt string if `return_prompt`)."""
        if interleaved_inputs is None and prompt is None:
            raise ValueError("interleaved_inputs and prompt can not both be None")
        if prompt is not None and interleaved_inputs:
            logger.warning("When prompt is specified, interleaved_inputs will not be used.")
        if prompt is None and not isinstance(interleaved_inputs, list):
            interleaved_inputs = [interleaved_inputs]
        if prompt is None and not interleaved_inputs:
            raise ValueError("interleaved_inputs is an empty list: give at least one input")
        result = self._spirit.generate(
            interleaved_inputs, prompt=prompt, output_modality=output_modality, seed=seed, speaker_id=speaker_id,
            constrain=force_tokens_to_output_modality, compat=compat, generation_config=generation_config, **kwargs)
        return (result.outputs, result.prompt) if return_prompt else result.outputs
