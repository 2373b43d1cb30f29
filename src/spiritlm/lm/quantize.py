"""Faster CPU inference for the LM: int8 dynamic quantization of its linear layers.

Weights of every `nn.Linear` (attention and MLP projections, the output head) are stored as int8
with one scale per output row; activations are quantized on the fly per batch. The embeddings and
norms stay fp32. On CPU this cuts the LM's weight memory about 4x for the linear layers and speeds
up decoding where the matmuls dominate (large models); `benchmarks/lm_quantized.py` measures the
speed-up and how closely the int8 model's next-token distribution follows fp32's on the same run.
"""

from __future__ import annotations

import logging
import warnings

logger = logging.getLogger(__name__)

QUANT_MODES = ("int8",)  # load_lm also takes "int8-weight" and "int4" (weight-only, lm/lazy_load.py)


def quantize_lm(model, mode: str = "int8"):
    """Quantize `model` (a CPU fp32 `LlamaForCausalLM`) in place and return it."""
    import torch
    from torch import nn

    if mode not in QUANT_MODES:
        raise ValueError(f"unknown quantization {mode!r}; valid: int8, int8-weight, int4")
    p = next(model.parameters())
    if p.device.type != "cpu":
        raise ValueError(f"int8 dynamic quantization runs on CPU; the model is on {p.device}")
    if p.dtype != torch.float32:
        raise ValueError(f"int8 dynamic quantization needs an fp32 model, got {p.dtype} (load with dtype=float32)")
    from torch.ao.quantization import quantize_dynamic
    from torch.ao.quantization.qconfig import per_channel_dynamic_qconfig

    n = sum(isinstance(m, nn.Linear) for m in model.modules())
    with warnings.catch_warnings():  # torch flags its quantized tensor API as deprecated; it still works in 2.x
        warnings.simplefilter("ignore")
        quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)
    logger.info("quantized %d linear layers to int8 (dynamic, per-channel)", n)
    return model
