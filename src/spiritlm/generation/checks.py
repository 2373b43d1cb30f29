"""Checks made before any generation work: the prompts argument, speech input lengths, the model's context.

The context check counts tokens exactly once the prompt is built. A long recording is refused before it
is encoded: HuBERT gives 25 frames a second, and merging repeated units rarely halves that, so audio
longer than `2 x context / 25` seconds (164 s for a 2048-token context, 328 s for Spirit LM's 4096)
cannot fit; shorter audio is encoded and counted exactly::

    check_context(prompt_lengths=[5200], max_new_tokens=200, context=4096)
    -> PromptTooLong: the prompt is 5200 tokens and max_new_tokens is 200: 5400 > the model's context ...
"""

from __future__ import annotations

from collections.abc import Sequence

from ..audio import audio_duration, speech_kind
from ..errors import InvalidInput, InvalidSpeechInput, PromptTooLong

HUBERT_FRAME_RATE = 25.0  # HuBERT frames per second of speech (before repeated units are merged)
MIN_KEPT_FRACTION = 0.5  # merging repeats keeps at least about half of the frames of real speech
MIN_SPEECH_SECONDS = 0.08  # the speech tokenizer skips chunks under 1280 samples (80 ms): no units at all


def context_size(model) -> int | None:
    """The number of positions the LM was trained for (`max_position_embeddings`), if it says."""
    value = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


def check_prompts_arg(prompts) -> list:
    """`generate_batch`'s first argument: a non-empty list of prompts (inputs, a string or a Prompt)."""
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise InvalidInput(f"generate_batch takes a list of prompts (each a list of (type, content) inputs or a "
                           f"token string), got {type(prompts).__name__} {prompts!r:.40}; for one prompt use "
                           "generate()")
    if not prompts:
        raise InvalidInput("generate_batch needs at least one prompt")
    from .prompt import Prompt

    for n, p in enumerate(prompts):
        if not isinstance(p, (str, list, tuple, Prompt)) and not hasattr(p, "content_type"):
            raise InvalidInput(f"prompt {n} is a {type(p).__name__}; each prompt is a list of (type, content) "
                               "inputs, a GenerationInput, or a token string")
    return list(prompts)


def max_speech_seconds(context: int) -> float:
    return context / (HUBERT_FRAME_RATE * MIN_KEPT_FRACTION)


def check_speech_length(content, context: int | None) -> None:
    """Refuse, before encoding, audio too short to give any unit, or that cannot fit the context even after
    repeated units merge."""
    if speech_kind(content) not in ("path", "bytes", "waveform"):
        return
    seconds = audio_duration(content)
    if seconds and seconds < MIN_SPEECH_SECONDS:  # 0 s: load_audio says "empty"
        raise InvalidSpeechInput(f"the speech input is too short: {seconds * 1000:.1f} ms of audio gives no speech "
                                 f"units (at least {MIN_SPEECH_SECONDS * 1000:.0f} ms is needed)")
    if context is None:
        return
    if seconds is not None and seconds > max_speech_seconds(context):
        raise PromptTooLong(
            f"the speech input is {seconds:.1f} s long: {seconds * HUBERT_FRAME_RATE:.0f} frames at "
            f"{HUBERT_FRAME_RATE:g} Hz, more than the model's context of {context} tokens can hold even after "
            f"repeated units merge (at most about {max_speech_seconds(context):.0f} s of speech per prompt); "
            "cut the recording into shorter pieces")


def check_context(prompt_lengths: Sequence[int], max_new_tokens: int | None, context: int | None) -> None:
    """Every prompt plus `max_new_tokens` must fit the context; the message gives the numbers."""
    if context is None:
        return
    longest = max(prompt_lengths)
    which = "" if len(prompt_lengths) == 1 else f" (prompt {list(prompt_lengths).index(longest)})"
    if longest >= context:
        raise PromptTooLong(f"the prompt is {longest} tokens{which}, the model's context is {context} tokens: "
                            "shorten the prompt (one second of speech is about 12-25 tokens)")
    if max_new_tokens is not None and longest + max_new_tokens > context:
        raise PromptTooLong(f"the prompt is {longest} tokens{which} and max_new_tokens is {max_new_tokens}: "
                            f"{longest + max_new_tokens} > the model's context of {context} tokens; lower "
                            f"max_new_tokens to at most {context - longest} or shorten the prompt")
