"""Weight-only int8 / int4 linear layers for CPU decoding, on torch's own packed-weight kernels.

Decoding a 7B model at batch 1 reads every weight once per token, so its speed is bytes / memory
bandwidth: storing the weights in 8 or 4 bits (activations stay fp32) cuts the bytes 4x / 8x from
fp32. The kernels are `torch.ops.aten._weight_int8pack_mm` (int8, one scale per output row) and
`_weight_int4pack_mm_for_cpu` (4-bit, asymmetric, one scale and zero per group of `group_size`
input columns: w = (q - 8) * scale + zero, q in 0..15).

    lin = WeightOnlyLinear.from_weight(w, "int4", group_size=128)   # w [N, K] any float dtype
    y = lin(x)                                                      # x [..., K] fp32 -> [..., N]
"""

from __future__ import annotations

import torch
from torch import nn

WEIGHT_ONLY_MODES = ("int8", "int4")


def _int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """w [N, K] -> int8 [N, K], fp32 scales [N] (symmetric, per output row)."""
    w = w.float()
    scale = w.abs().amax(dim=1).clamp(min=1e-8) / 127.0
    return (w / scale[:, None]).round_().clamp_(-128, 127).to(torch.int8), scale


def _int4(w: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """w [N, K] -> packed uint8 [N, K/2], scale-and-zero [K/group, N, 2] fp32."""
    N, K = w.shape
    g = w.float().view(N, K // group_size, group_size)
    lo, hi = g.amin(-1), g.amax(-1)
    scale = (hi - lo).clamp(min=1e-8) / 15.0
    q = ((g - lo[..., None]) / scale[..., None]).round_().clamp_(0, 15).to(torch.int32).view(N, K)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
    return packed, torch.stack([scale, lo + 8 * scale], dim=-1).transpose(0, 1).contiguous()


class WeightOnlyLinear(nn.Module):
    """`nn.Linear` without bias whose weight is stored in int8 or int4 (fp32 activations)."""

    def __init__(self, in_features: int, out_features: int, mode: str, group_size: int = 128):
        super().__init__()
        if mode not in WEIGHT_ONLY_MODES:
            raise ValueError(f"unknown weight-only mode {mode!r}; valid: {', '.join(WEIGHT_ONLY_MODES)}")
        if mode == "int4" and in_features % group_size:
            raise ValueError(f"int4 needs in_features ({in_features}) divisible by group_size ({group_size})")
        self.in_features, self.out_features, self.mode, self.group_size = in_features, out_features, mode, group_size
        self.register_buffer("qweight", torch.empty(0, dtype=torch.int8 if mode == "int8" else torch.uint8))
        self.register_buffer("scales", torch.empty(0))

    @classmethod
    def from_weight(cls, weight: torch.Tensor, mode: str, group_size: int = 128) -> WeightOnlyLinear:
        out_features, in_features = weight.shape
        lin = cls(in_features, out_features, mode, group_size)
        q, s = _int8(weight) if mode == "int8" else _int4(weight, group_size)
        lin.qweight, lin.scales = q, s
        return lin

    @property
    def weight_bytes(self) -> int:
        return self.qweight.numel() * self.qweight.element_size() + self.scales.numel() * 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, self.in_features).float().contiguous()
        if self.mode == "int8":
            y = torch.ops.aten._weight_int8pack_mm(x2, self.qweight, self.scales)
        else:
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(x2, self.qweight, self.group_size, self.scales)
        return y.view(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, {self.mode}" + (
            f", group {self.group_size}" if self.mode == "int4" else "")
