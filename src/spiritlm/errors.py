"""The typed errors of spiritlm: what a caller can catch, and what each entry point turns them into.

Every error caused by the caller's input derives from `InvalidInput`, which is also a `ValueError`, so
code written against the official release (which raised plain `ValueError` / `AssertionError`) keeps
working::

    SpiritLMError
    ├── InvalidInput (ValueError)           bad input from the caller; the message names the valid options
    │   ├── InvalidSetting                  a generation setting (temperature, top_p, num_beams, ...)
    │   ├── InvalidSpeechInput              a speech input that is neither audio, units nor a unit string
    │   │   └── AudioError                  audio that cannot be used (unreadable, empty, NaN, wrong shape)
    │   ├── PromptTooLong                   prompt (+ max_new_tokens) over the model's context
    │   └── OutputPathError                 an output path that exists / is a folder / cannot be written
    └── CheckpointError (ValueError)        a checkpoint file that is corrupt, truncated or refused (pickles)

The CLI maps these (and `OSError` for paths) to one line on stderr and exit code 2; the Python APIs
raise them; the server answers them with HTTP 4xx and a JSON error. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class SpiritLMError(Exception):
    """Base class of every error spiritlm raises on purpose."""


class InvalidInput(SpiritLMError, ValueError):
    """Input from the caller that cannot be used; the message says what is wrong and what is valid."""


class InvalidSetting(InvalidInput):
    """A generation setting out of its range or of the wrong type."""


class InvalidSpeechInput(InvalidInput):
    """A speech input that is neither a path, file bytes, a waveform, SpeechUnits nor a unit string."""


class AudioError(InvalidSpeechInput):
    """Audio that cannot be used: unreadable, empty, non-finite, or of the wrong shape."""


class PromptTooLong(InvalidInput):
    """A prompt that does not fit the model's context."""


class OutputPathError(InvalidInput):
    """An output path that already exists (without overwrite), is a folder, or cannot be written."""


class CheckpointError(SpiritLMError, ValueError):
    """A checkpoint file that cannot be used: corrupt, truncated, of the wrong kind, or refused."""


__all__ = ["SpiritLMError", "InvalidInput", "InvalidSetting", "InvalidSpeechInput", "AudioError", "PromptTooLong",
           "OutputPathError", "CheckpointError"]
