"""`SpiritLM`: interleaved speech/text generation on ids, with modality control and batching.

    lm = SpiritLM.from_pretrained("spirit-lm-base-7b")          # or any checkpoint folder
    res = lm.generate([("text", "The largest country in the world is")], output_modality="text",
                      max_new_tokens=20, do_sample=False)
    res.text  -> 'Russia. Russia is a country ...'

Differences from the official `Spiritlm.generate` (each reachable with `compat=True`):
new content is sliced from the generated ids (not the decoded string); a speech turn ends by itself
at </s> or at a [Text] marker (and a text turn at a [Speech] marker) instead of running to
`max_new_tokens`; several prompts are generated as one left-padded batch with a real pad id;
`max_new_tokens` defaults to the paper's lengths (50 text, 200 T->S, 300 S->S, 100 arbitrary).
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Callable, Sequence

import numpy as np

from ..audio import load_audio, speech_kind
from ..errors import InvalidInput, InvalidSpeechInput
from ..lm.model import LoadedLM, load_lm
from ..tokens import Token, ids_to_tokens, parse_unit_string, tokens_to_units, units_to_tokens
from ..units import SpeechUnits
from .checks import check_context, check_prompts_arg, check_speech_length, context_size
from .constraints import ModalityLogitsProcessor, allowed_mask, stop_ids
from .decode import decode
from .interfaces import SpeechEncoder, Vocoder
from .prompt import Prompt, build_prompt, prompt_from_string
from .settings import check_config, validate_generation_settings
from .types import ContentType, GenerationInput, GenerationOutput, GenerationResult, OutputModality

logger = logging.getLogger(__name__)

MIN_SPEECH_CHUNK_HU = 25  # ARBITRARY output: later speech chunks with fewer Hu tokens are dropped (official rule)
SpeechLoader = Callable[[LoadedLM], tuple[SpeechEncoder | None, Vocoder | None]]


def _default_max_new_tokens(modality: OutputModality, prompt: Prompt) -> int:
    if modality is OutputModality.TEXT:
        return 50
    if modality is OutputModality.SPEECH:
        return 300 if prompt.last_modality == "s" else 200
    return 100


class SpiritLM:
    """A Spirit LM with its text tokenizer and (lazily loaded) speech encoder and vocoder."""

    def __init__(self, lm: LoadedLM, speech_encoder: SpeechEncoder | None = None, vocoder: Vocoder | None = None,
                 speech_loader: SpeechLoader | None = None):
        self.lm = lm
        self._encoder = speech_encoder
        self._vocoder = vocoder
        self._speech_loader = speech_loader
        self._speech_error: str | None = None
        self._masks: dict[tuple, object] = {}
        self.fast_decode = True  # False: always decode with transformers.generate (see decode.py)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, device: str | None = None, dtype=None,
                        speech_encoder: SpeechEncoder | None = None, vocoder: Vocoder | None = None,
                        speech_loader: SpeechLoader | None = None, quantize: str | None = None) -> SpiritLM:
        """Load an LM checkpoint. The speech tokenizer and vocoder of its checkpoints root (see
        `speech_loader.py`) load on first use unless given here. `quantize="int8"`: faster CPU decoding
        (int8 dynamic quantization of the LM's linear layers, `spiritlm.lm.quantize`)."""
        from .speech_loader import default_speech_loader

        return cls(load_lm(name_or_path, device, dtype, quantize=quantize), speech_encoder, vocoder,
                   speech_loader or default_speech_loader(device=str(device or "cpu")))

    # ------------------------------------------------------------------ components
    @property
    def model(self):
        return self.lm.model

    @property
    def tokenizer(self):
        return self.lm.tokenizer

    @property
    def layout(self):
        return self.lm.layout

    @property
    def is_expressive(self) -> bool:
        return self.layout.is_expressive

    @property
    def device(self):
        return next(self.model.parameters()).device

    def _load_speech(self) -> None:
        if self._speech_loader is None:
            return
        loader, self._speech_loader = self._speech_loader, None
        try:
            encoder, vocoder = loader(self.lm)
        except FileNotFoundError as e:
            self._speech_error = str(e)
            return
        self._encoder = self._encoder or encoder
        self._vocoder = self._vocoder or vocoder

    def _missing(self, what: str, hint: str) -> ValueError:
        reason = f" ({self._speech_error})" if self._speech_error else ""
        return InvalidInput(f"this model has no {what} loaded{reason}: {hint}")

    @property
    def speech_encoder(self) -> SpeechEncoder:
        if self._encoder is None:
            self._load_speech()
        if self._encoder is None:
            raise self._missing("speech encoder", "pass speech_encoder=..., or give speech inputs as SpeechUnits or "
                                "token strings such as '[Hu12][Hu7]'")
        return self._encoder

    @property
    def vocoder(self) -> Vocoder:
        if self._vocoder is None:
            self._load_speech()
        if self._vocoder is None:
            raise self._missing("vocoder", "pass vocoder=..., or synthesize=False to get speech outputs as units only")
        return self._vocoder

    # ------------------------------------------------------------------ speech inputs
    def encode_speech(self, audio, sample_rate: int | None = None) -> SpeechUnits:
        """Audio (path, bytes, array, tensor) -> raw units from the speech encoder."""
        wav = load_audio(audio, sample_rate)  # bad audio fails before the encoder is loaded
        return self.speech_encoder.encode_units(wav)

    def speech_tokens(self, content) -> list[Token]:
        """One speech input -> its token sequence for this model's layout (see `audio.speech_kind`)."""
        kind = speech_kind(content)
        if kind == "unit_string":
            try:
                tokens = parse_unit_string(content.strip(), allow_markers=False)
            except ValueError as e:
                raise InvalidSpeechInput(str(e)) from e
        else:
            units = content if kind == "units" else self.encode_speech(content)
            if not self.is_expressive and units.is_expressive:
                units = SpeechUnits(units.hubert, aligned=units.aligned)
            tokens = units_to_tokens(units)
        if not tokens:
            raise InvalidSpeechInput("the speech input holds no units" + (
                "" if kind == "unit_string" else " (audio shorter than the encoder's 80 ms minimum?)"))
        for stream, value in tokens:
            try:
                self.layout.unit_id(stream, value)
            except ValueError as e:
                raise InvalidSpeechInput(f"{e}; the speech input does not fit this model") from e
        return tokens

    # ------------------------------------------------------------------ generation
    def build_prompt(self, inputs, output_modality: OutputModality | str = OutputModality.ARBITRARY) -> Prompt:
        if isinstance(inputs, (GenerationInput, tuple)):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)):
            raise InvalidInput(f"a prompt is a list of (type, content) inputs or GenerationInput, got "
                               f"{type(inputs).__name__}")
        items = [GenerationInput.coerce(x) for x in inputs]
        for item in items:  # a long recording fails here, before any of it is encoded
            if item.content_type.name == "SPEECH":
                check_speech_length(item.content, context_size(self.model))
        return build_prompt(items, OutputModality.parse(output_modality), self.tokenizer, self.speech_tokens)

    def generate(self, inputs=None, *, prompt: str | None = None, **kwargs) -> GenerationResult:
        """Generate from one prompt: a list of inputs / (type, content) tuples, or a token string."""
        if inputs is None and prompt is None:
            raise InvalidInput("give inputs (a list of GenerationInput or (type, content) tuples) or a prompt string")
        return self.generate_batch([prompt if prompt is not None else inputs], **kwargs)[0]

    def generate_batch(self, prompts: Sequence, output_modality: OutputModality | str = OutputModality.ARBITRARY,
                       max_new_tokens: int | None = None, seed: int | None = None, speaker_id: int | None = None,
                       constrain: bool = True, stop_on_modality_switch: bool = True, compat: bool = False,
                       synthesize: bool = True, generation_config=None, stopping_criteria=None,
                       **gen_kwargs) -> list[GenerationResult]:
        """Generate from several prompts at once (left-padded batch). Each prompt is a list of inputs, a
        token string or an already built `Prompt`. `gen_kwargs` are `transformers.GenerationConfig` fields
        (do_sample, temperature, ...). `stopping_criteria`: extra `transformers.StoppingCriteria` (called after
        every step with the ids so far; the server streams and cancels rows through it)."""
        prompts = check_prompts_arg(prompts)
        settings = validate_generation_settings(max_new_tokens=max_new_tokens, seed=seed, **gen_kwargs)
        max_new_tokens, seed, gen_kwargs = settings.max_new_tokens, settings.seed, settings.generate_kwargs()
        if speaker_id is not None and (isinstance(speaker_id, bool) or not isinstance(speaker_id, numbers.Integral)
                                       or speaker_id < 0):
            raise InvalidInput(f"speaker_id must be a non-negative integer (a vocoder speaker), got {speaker_id!r}")
        modality = OutputModality.parse(output_modality)
        built = [p if isinstance(p, Prompt) else prompt_from_string(p, self.tokenizer) if isinstance(p, str)
                 else self.build_prompt(p, modality) for p in prompts]
        new_ids, reasons = self._generate_ids(built, modality, max_new_tokens, seed, constrain,
                                              stop_on_modality_switch, compat, generation_config, gen_kwargs,
                                              stopping_criteria)
        return [GenerationResult(self._outputs(ids, p, modality, speaker_id, compat, synthesize), p.text,
                                 p.ids, ids, reason) for ids, p, reason in zip(new_ids, built, reasons)]

    def _generation_config(self, base, gen_kwargs: dict):
        from transformers import GenerationConfig

        if base is not None and not isinstance(base, GenerationConfig):
            raise InvalidInput(f"generation_config must be a transformers.GenerationConfig, got {type(base).__name__}")
        cfg = GenerationConfig.from_dict(base.to_dict()) if base is not None else GenerationConfig()
        for key, value in gen_kwargs.items():  # names and values checked by validate_generation_settings
            setattr(cfg, key, value)
        check_config(cfg)
        return cfg

    def _generate_ids(self, prompts: list[Prompt], modality, max_new_tokens, seed, constrain, stop_switch, compat,
                      generation_config, gen_kwargs, stopping_criteria=None) -> tuple[list[list[int]], list[str]]:
        import torch
        from transformers import LogitsProcessorList, set_seed

        tok, layout = self.tokenizer, self.layout
        cfg = self._generation_config(generation_config, gen_kwargs)
        if max_new_tokens is not None:
            cfg.max_new_tokens = max_new_tokens
        elif not compat and "max_new_tokens" not in gen_kwargs and generation_config is None:
            cfg.max_new_tokens = max(_default_max_new_tokens(modality, p) for p in prompts)
            room = (context_size(self.model) or 10**9) - max(len(p.ids) for p in prompts)
            if 0 < room < cfg.max_new_tokens:  # a default, not the caller's choice: shortened to fit
                logger.info("max_new_tokens %d -> %d to fit the model's context", cfg.max_new_tokens, room)
                cfg.max_new_tokens = room
        check_context([len(p.ids) for p in prompts], cfg.max_new_tokens, context_size(self.model))
        stops = stop_ids(layout, modality, tok.eos_id, stop_switch, compat)
        cfg.eos_token_id, cfg.pad_token_id = stops, tok.pad_id
        processors = LogitsProcessorList()
        if constrain and not (compat and modality is OutputModality.ARBITRARY):
            key = (modality, stop_switch, compat)
            if key not in self._masks:
                self._masks[key] = ModalityLogitsProcessor(allowed_mask(
                    layout, modality, tok.eos_id, tok.bos_id, tok.unk_id, stop_switch, compat))
            processors.append(self._masks[key])
        width = max(len(p.ids) for p in prompts)
        input_ids = torch.full((len(prompts), width), tok.pad_id, dtype=torch.long)  # [B, L] left-padded
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            input_ids[row, width - len(p.ids):] = torch.tensor(p.ids)
            attention[row, width - len(p.ids):] = 1
        if seed is not None:
            set_seed(seed)
        with torch.inference_mode():
            out = decode(self.model, input_ids.to(self.device), attention.to(self.device), cfg, processors,
                         fast=self.fast_decode, stopping_criteria=stopping_criteria)
        results, reasons = [], []
        stop_set = set(stops)
        for row in out[:, width:].tolist():
            cut = next((i for i, t in enumerate(row) if t in stop_set), None)
            if cut is None:
                results.append(row)
                reasons.append("length")
            else:
                results.append(row[:cut + 1])
                reasons.append("eos" if row[cut] == tok.eos_id else "modality_switch")
        return results, reasons

    # ------------------------------------------------------------------ outputs
    def _segments(self, ids: list[int]) -> list[tuple[str, list[int]]]:
        """New ids -> runs of ("t", text ids) / ("s", unit ids); markers, </s> and padding are dropped."""
        segs: list[tuple[str, list[int]]] = []
        specials = {self.tokenizer.eos_id, self.tokenizer.bos_id, self.tokenizer.pad_id}
        for i in ids:
            kind, _ = self.layout.token_of(i)
            if kind == "text" and i not in specials:
                k = "t"
            elif kind in ("hubert", "pitch", "style"):
                k = "s"
            else:
                continue
            if segs and segs[-1][0] == k:
                segs[-1][1].append(i)
            else:
                segs.append((k, [i]))
        return segs

    def _outputs(self, ids: list[int], prompt: Prompt, modality: OutputModality, speaker_id, compat: bool,
                 synthesize: bool) -> list[GenerationOutput]:
        segs = self._segments(ids)
        outputs: list[GenerationOutput] = []
        for n, (kind, seg) in enumerate(segs):
            if kind == "t":
                text = self.tokenizer.decode_text(seg)
                text = text.lstrip() if n == 0 else text
                text = text.rstrip() if n == len(segs) - 1 else text
                outputs.append(GenerationOutput(text, ContentType.TEXT, token_ids=seg))
                continue
            out = self._speech_output(n, seg, prompt, modality, speaker_id, compat, synthesize)
            if out is not None:
                outputs.append(out)
        return outputs

    @property
    def _default_style(self) -> int:
        """Style 71 (the official fallback) where the inventory has it, else style 0."""
        return 71 if self.layout.n_style > 71 else 0

    def _complete(self, units: SpeechUnits) -> SpeechUnits:
        """An Expressive turn with no Pi (or St) token still needs both streams to be vocoded: fill them
        with pitch 0 and the default style, and say so."""
        if not self.is_expressive or (units.pitch is not None and units.style is not None) or not len(units):
            return units
        logger.warning("the Expressive model emitted no %s token in a speech turn; using defaults to vocode it",
                       "pitch" if units.pitch is None else "style")
        n = len(units.hubert)
        pitch = units.pitch if units.pitch is not None else np.zeros(n, dtype=np.int64)
        style = units.style if units.style is not None else np.full(n, self._default_style, dtype=np.int64)
        return SpeechUnits(units.hubert, pitch, style, aligned=True)

    def _speech_output(self, n: int, seg: list[int], prompt: Prompt, modality, speaker_id, compat, synthesize):
        hu = self.layout.id_range("hubert")
        n_new = sum(i in hu for i in seg)
        arbitrary = modality is OutputModality.ARBITRARY
        with_context = n == 0 and prompt.last_speech_ids and (arbitrary or not compat)
        context = prompt.last_speech_ids if with_context else []
        n_ctx = sum(i in hu for i in context)
        count = n_new + 1 if compat else n_new  # the official threshold counts n + 1
        if n_new == 0 or (arbitrary and (n > 0 or context) and count < MIN_SPEECH_CHUNK_HU):
            return None
        units_all = self._complete(tokens_to_units(ids_to_tokens(context + seg, self.layout),
                                                   missing_style="random" if compat else self._default_style))
        units = SpeechUnits(*(None if a is None else a[n_ctx:] for a in (units_all.hubert, units_all.pitch,
                                                                          units_all.style)), aligned=True)
        wav = None
        if synthesize:
            wav = np.asarray(self.vocoder.synthesize(units_all, speaker_id=speaker_id), dtype=np.float32)
            if n_ctx:
                wav = wav[math.ceil(len(wav) * n_ctx / len(units_all.hubert)):]
        return GenerationOutput(wav, ContentType.SPEECH, units=units, token_ids=seg)
