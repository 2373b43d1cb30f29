"""Stateful streaming of the HiFi-GAN stack: every layer keeps just the samples it still needs.

The context approach (`streaming.stream_frames`) recomputes 2 x 23 frames of context per chunk at
official size, nearly doubling the work for 50-frame chunks. Here each layer is run incrementally
instead, and no sample is computed twice:

* a "same" conv (kernel k, dilation d, padding p) keeps the last ``(k - 1) * d`` input samples;
  it starts from p zeros (its left padding), emits every output whose window is complete, and
  appends p zeros (its right padding) when the input ends;
* a transposed conv (stride u) emits ``u`` samples per input sample and keeps the ``k - u``
  overlapping tail for the next input (overlap-add); the p cropped samples at each end are dropped;
* a residual ``x + f(x)`` queues ``x`` until ``f`` has caught up; the MRF mean waits for its
  slowest branch.

So the output lags the input by the stack's look-ahead, and `push(frames, final=True)` drains it.
The concatenated output equals the offline waveform up to float summation order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .hifigan import FINAL_LRELU_SLOPE, LRELU_SLOPE, HiFiGANStack, ResidualBlock


def _empty_like(x: torch.Tensor, channels: int) -> torch.Tensor:
    return x.new_zeros(x.shape[0], channels, 0)


class _Conv:
    """A "same" Conv1d run on a stream."""

    def __init__(self, conv: torch.nn.Conv1d):
        self.conv = conv
        self.span = (conv.kernel_size[0] - 1) * conv.dilation[0]
        self.pad = conv.padding[0]
        self.buf: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor, final: bool = False) -> torch.Tensor:
        c = self.conv
        if self.buf is None:
            self.buf = x.new_zeros(x.shape[0], x.shape[1], self.pad)
        parts = [self.buf, x] + ([x.new_zeros(x.shape[0], x.shape[1], self.span - self.pad)] if final else [])
        buf = torch.cat(parts, dim=2)
        n_out = buf.shape[2] - self.span
        if n_out <= 0:
            self.buf = buf
            return _empty_like(x, c.out_channels)
        y = F.conv1d(buf, c.weight, c.bias, dilation=c.dilation[0])
        self.buf = buf[:, :, n_out:]
        return y


class _ConvTranspose:
    """A ConvTranspose1d (padding p = (k - u) / 2) run on a stream by overlap-add."""

    def __init__(self, conv: torch.nn.ConvTranspose1d):
        self.conv = conv
        self.k, self.u, self.p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        self.tail: torch.Tensor | None = None
        self.to_skip = self.p

    def __call__(self, x: torch.Tensor, final: bool = False) -> torch.Tensor:
        c = self.conv
        if self.tail is None:
            self.tail = x.new_zeros(x.shape[0], c.out_channels, self.k - self.u)
        out = _empty_like(x, c.out_channels)
        if x.shape[2]:
            y = F.conv_transpose1d(x, c.weight, None, stride=self.u)  # [B, C, (L-1)u + k]
            y[:, :, : self.k - self.u] += self.tail
            done = x.shape[2] * self.u
            out, self.tail = y[:, :, :done], y[:, :, done:]
        if final:
            out = torch.cat([out, self.tail[:, :, : self.tail.shape[2] - self.p]], dim=2)
        skip = min(self.to_skip, out.shape[2])
        self.to_skip -= skip
        out = out[:, :, skip:]
        return out + c.bias.view(1, -1, 1) if c.bias is not None else out


class _Residual:
    """One residual block: pairs of (dilated conv, plain conv) with their skip connections."""

    def __init__(self, block: ResidualBlock):
        self.pairs = [(_Conv(a), _Conv(b)) for a, b in zip(block.convs1, block.convs2)]
        self.queues: list[torch.Tensor | None] = [None] * len(self.pairs)

    def __call__(self, x: torch.Tensor, final: bool = False) -> torch.Tensor:
        for i, (dilated, plain) in enumerate(self.pairs):
            fx = plain(F.leaky_relu(dilated(F.leaky_relu(x, LRELU_SLOPE), final), LRELU_SLOPE), final)
            q = x if self.queues[i] is None else torch.cat([self.queues[i], x], dim=2)
            n = fx.shape[2]
            x, self.queues[i] = q[:, :, :n] + fx, q[:, :, n:]
        return x


class _MRF:
    """Mean of parallel residual blocks; emits as far as the slowest branch has reached."""

    def __init__(self, blocks: list[ResidualBlock]):
        self.branches = [_Residual(b) for b in blocks]
        self.pending: list[torch.Tensor | None] = [None] * len(blocks)

    def __call__(self, x: torch.Tensor, final: bool = False) -> torch.Tensor:
        for i, branch in enumerate(self.branches):
            y = branch(x, final)
            self.pending[i] = y if self.pending[i] is None else torch.cat([self.pending[i], y], dim=2)
        n = min(p.shape[2] for p in self.pending)
        acc = self.pending[0][:, :, :n]
        for p in self.pending[1:]:
            acc = acc + p[:, :, :n]
        self.pending = [p[:, :, n:] for p in self.pending]
        return acc / len(self.branches)


class StreamingStack:
    """Incremental runner of one `HiFiGANStack`: push frames [B, C, n], get the samples now final."""

    def __init__(self, stack: HiFiGANStack):
        self.pre = _Conv(stack.conv_pre)
        self.stages = [(_ConvTranspose(up), _MRF(stack.stage_blocks(i))) for i, up in enumerate(stack.ups)]
        self.post = _Conv(stack.conv_post)
        self.finished = False

    def push(self, frames: torch.Tensor, final: bool = False) -> torch.Tensor:  # [B, C, n] -> [B, m]
        if self.finished:
            raise RuntimeError("this stream has ended (final=True was pushed); start a new StreamingStack")
        self.finished = final
        x = self.pre(frames, final)
        for up, mrf in self.stages:
            x = mrf(up(F.leaky_relu(x, LRELU_SLOPE), final), final)
        return torch.tanh(self.post(F.leaky_relu(x, FINAL_LRELU_SLOPE), final)).squeeze(1)
