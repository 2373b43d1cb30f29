"""Pick the decode loop for one `generate_batch` call: `FastDecoder` when it can do what was asked,
else `transformers.generate`.

The fast loop handles greedy decoding and plain sampling (temperature, top-k, top-p) with our
modality masks and stop ids; anything else a `GenerationConfig` can ask for (beams, repetition
penalties, min lengths, extra logits processors, ...) goes to `generate`, which returns the same
kind of tensor: `[B, L + new]`, prompt ids first.
"""

from __future__ import annotations

import logging

import torch

from ..errors import InvalidInput
from ..lm.fast_decode import FastDecoder, SamplingConfig, supports
from .constraints import ModalityLogitsProcessor

logger = logging.getLogger(__name__)

# GenerationConfig fields the fast loop implements; any other non-default field sends the call to `generate`.
_HANDLED = {"max_new_tokens", "eos_token_id", "pad_token_id", "bos_token_id", "do_sample", "temperature",
            "top_k", "top_p", "use_cache", "transformers_version", "_from_model_config",
            "output_attentions", "output_hidden_states", "max_length"}


def fast_reason(model, cfg, processors) -> str | None:
    """None when the fast loop can run this call, else why not."""
    reason = supports(model)
    if reason:
        return reason
    if any(not isinstance(p, ModalityLogitsProcessor) for p in processors):
        return "a logits processor other than the modality mask"
    if cfg.max_new_tokens is None:
        return "no max_new_tokens"
    default = type(cfg)().to_dict()
    extra = [k for k, v in cfg.to_dict().items() if k not in _HANDLED and default.get(k, v) != v]
    return f"generation options {sorted(extra)}" if extra else None


def _blocked(processors, vocab: int, device) -> torch.Tensor | None:
    blocked = None
    for p in processors:
        probe = p(None, torch.zeros(1, vocab, device=device))
        b = torch.isinf(probe[0])
        blocked = b if blocked is None else blocked | b
    return blocked


def _decoder(model) -> FastDecoder:
    dec = getattr(model, "_spiritlm_fast_decoder", None)
    if dec is None:
        dec = FastDecoder(model)
        model._spiritlm_fast_decoder = dec  # cached on the model it runs, not in a module global
    return dec


def decode(model, input_ids: torch.Tensor, attention: torch.Tensor, cfg, processors, fast: bool = True,
           stopping_criteria=None) -> torch.Tensor:
    """[B, L] left-padded prompts -> [B, L + n] prompt + new ids (the shape `generate` returns)."""
    llamacpp = getattr(model, "is_llamacpp", False)  # lm/llamacpp.py: our loop around llama.cpp's logits
    reason = fast_reason(model, cfg, processors) if fast or llamacpp else "fast decoding switched off"
    if reason is not None and llamacpp:
        raise InvalidInput(f"llama.cpp decoding cannot do this call: {reason}")
    if reason is not None:
        logger.debug("decoding with transformers.generate: %s", reason)
        return model.generate(input_ids=input_ids, attention_mask=attention, generation_config=cfg,
                              logits_processor=processors, stopping_criteria=stopping_criteria)
    stops = cfg.eos_token_id if isinstance(cfg.eos_token_id, list) else [cfg.eos_token_id]
    sampling = SamplingConfig(bool(cfg.do_sample), float(cfg.temperature or 1.0), int(cfg.top_k or 0),
                              float(cfg.top_p if cfg.top_p is not None else 1.0))
    run = model.generate_new if llamacpp else _decoder(model).generate
    new = run(input_ids, attention, max_new_tokens=cfg.max_new_tokens, stop_ids=stops, pad_id=cfg.pad_token_id,
              blocked=_blocked(processors, model.config.vocab_size, input_ids.device), sampling=sampling,
              stopping_criteria=stopping_criteria)
    return torch.cat([input_ids, new], dim=1)
