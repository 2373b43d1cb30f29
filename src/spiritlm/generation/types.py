"""Inputs and outputs of generation, with the official names and semantics.

`GenerationInput(content, content_type)` is one piece of a prompt: text, or speech as a path, file
bytes, a waveform (16 kHz numpy array / torch tensor), or already-tokenized `SpeechUnits`.
`GenerationOutput(content, content_type)` is one piece of the answer: a string, or a 16 kHz float32
waveform (None when no vocoder is loaded; `units` always holds the speech units).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Union

import numpy as np

from ..errors import InvalidInput
from ..units import SpeechUnits


class ContentType(Enum):
    TEXT = "TEXT"
    SPEECH = "SPEECH"

    @classmethod
    def parse(cls, value: ContentType | str) -> ContentType:
        if isinstance(value, ContentType):
            return value
        try:
            return cls[str(value).upper()]
        except KeyError:
            raise InvalidInput(f"unknown content type {value!r}; valid: text, speech") from None


class OutputModality(Enum):
    TEXT = auto()
    SPEECH = auto()
    ARBITRARY = auto()

    @classmethod
    def parse(cls, value: OutputModality | str) -> OutputModality:
        if isinstance(value, OutputModality):
            return value
        try:
            return cls[str(value).upper()]
        except KeyError:
            raise InvalidInput(f"unknown output modality {value!r}; valid: text, speech, arbitrary") from None


SpeechContent = Union[str, os.PathLike, bytes, np.ndarray, "torch.Tensor", SpeechUnits]  # noqa: F821


@dataclass
class GenerationInput:
    content: SpeechContent
    content_type: ContentType

    def __post_init__(self) -> None:
        self.content_type = ContentType.parse(self.content_type)
        if self.content_type is ContentType.TEXT and not isinstance(self.content, str):
            raise InvalidInput(f"TEXT content must be a string, got {type(self.content).__name__}")

    @classmethod
    def from_tuple(cls, tup: tuple) -> GenerationInput:
        if not isinstance(tup, tuple) or len(tup) != 2:
            raise InvalidInput(f"expected a (content_type, content) tuple, got {tup!r:.80}")
        content_type, content = tup
        return cls(content=content, content_type=ContentType.parse(content_type))

    @classmethod
    def coerce(cls, item) -> GenerationInput:
        if isinstance(item, GenerationInput):
            return item
        if isinstance(item, tuple):
            return cls.from_tuple(item)
        raise InvalidInput(f"a prompt piece must be a GenerationInput or a (content_type, content) tuple, "
                         f"got {type(item).__name__}")


@dataclass
class GenerationOutput:
    content: str | np.ndarray | None
    content_type: ContentType
    units: SpeechUnits | None = field(default=None, repr=False)
    token_ids: list[int] = field(default_factory=list, repr=False)


GenerationOuput = GenerationOutput  # the official (misspelled) public name
InterleavedInputs = list[GenerationInput]
InterleavedOutputs = list[GenerationOutput]


@dataclass
class GenerationResult:
    """One prompt's answer: the output pieces plus what produced them."""

    outputs: list[GenerationOutput]
    prompt: str
    prompt_ids: list[int]
    new_ids: list[int]
    finish_reason: str  # "eos" | "modality_switch" | "length"

    @property
    def text(self) -> str:
        return "".join(o.content for o in self.outputs if o.content_type is ContentType.TEXT)
