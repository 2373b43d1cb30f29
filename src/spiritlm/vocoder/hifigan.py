"""The unit HiFi-GAN ("CodeHiFiGAN"): discrete units in, 16 kHz waveform out.

Three parts, each a module here:

1. **Conditioning** (`CodeHiFiGAN.conditioning`): one vector per 40 ms frame, the concatenation
   of a unit embedding with the optional pitch-code, style-code, speaker and global-style
   embeddings (speaker and global style are constant over the utterance).
2. **Durations** (`DurationPredictor`): the LM emits deduplicated units (`99 49 38`, not
   `99 99 49 49 49 38`). A small conv net predicts each unit's log duration ``d``; the unit is then
   repeated ``clamp(round(exp(d) - 1), min=1)`` frames. Resynthesis of tokenizer output skips
   this step: raw units already hold one unit per frame.
3. **Upsampling** (`HiFiGANStack`): HiFi-GAN V1. A k7 input conv, then per stage a leaky ReLU, a
   transposed conv that multiplies the length by its rate and halves the channels, and a
   multi-receptive-field (MRF) fusion: the mean of residual blocks with different kernel sizes
   and dilations. A k7 output conv and tanh give one sample per step::

       [B, 512, T] -> x5 -> [B, 256, 5T] -> x4 -> ... -> x2 -> [B, 16, 640T] -> [B, 640T]

Example: units `[7, 7, 3]` with durations `[2, 1]` after deduplication give 3 frames, so
exactly ``3 * 640 = 1920`` samples.

Module names are our own; `convert.py` maps them to the official state-dict keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from .config import VocoderConfig

LRELU_SLOPE = 0.1
FINAL_LRELU_SLOPE = 0.01  # the official generator's last activation uses the default slope


def _same_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size - 1) * dilation // 2


class ResidualBlock(nn.Module):
    """Pairs of (dilated conv, plain conv), each pair added back to its input."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same_padding(kernel_size, d))
            for d in dilations)
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=_same_padding(kernel_size)) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C, T]
        for dilated, plain in zip(self.convs1, self.convs2):
            y = dilated(F.leaky_relu(x, LRELU_SLOPE))
            x = x + plain(F.leaky_relu(y, LRELU_SLOPE))
        return x


class HiFiGANStack(nn.Module):
    """HiFi-GAN V1 generator body: [B, C_in, T] frames -> [B, T * hop] samples."""

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.upsample_initial_channel
        self.conv_pre = nn.Conv1d(cfg.in_channels, ch, 7, padding=3)
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for u, k in zip(cfg.upsample_rates, cfg.upsample_kernel_sizes):
            self.ups.append(nn.ConvTranspose1d(ch, ch // 2, k, u, padding=(k - u) // 2))
            ch //= 2
            for rk, rd in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.blocks.append(ResidualBlock(ch, rk, rd))
        self.conv_post = nn.Conv1d(ch, 1, 7, padding=3)
        self.n_kernels = len(cfg.resblock_kernel_sizes)

    def stage_blocks(self, i: int) -> list[ResidualBlock]:
        return list(self.blocks[i * self.n_kernels:(i + 1) * self.n_kernels])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, T * hop]
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.stage_blocks(i)
            acc = blocks[0](x)
            for block in blocks[1:]:
                acc = acc + block(x)
            x = acc / self.n_kernels
        x = self.conv_post(F.leaky_relu(x, FINAL_LRELU_SLOPE))
        return torch.tanh(x).squeeze(1)

    def convs(self) -> list[nn.Module]:
        """Every conv that carries weight norm during training."""
        out: list[nn.Module] = [self.conv_pre, *self.ups, self.conv_post]
        for b in self.blocks:
            out += [*b.convs1, *b.convs2]
        return out


class DurationPredictor(nn.Module):
    """Unit embeddings [B, T, C] -> log(duration + 1) per unit [B, T]."""

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        k, h = cfg.dur_kernel_size, cfg.dur_hidden_dim
        self.conv1 = nn.Conv1d(cfg.embedding_dim, h, k, padding=(k - 1) // 2)
        self.norm1 = nn.LayerNorm(h)
        self.conv2 = nn.Conv1d(h, h, k, padding=(k - 1) // 2)
        self.norm2 = nn.LayerNorm(h)
        self.proj = nn.Linear(h, 1)
        self.dropout = cfg.dur_dropout

    def forward(self, emb: torch.Tensor) -> torch.Tensor:  # [B, T, C] -> [B, T]
        x = emb
        for conv, norm in ((self.conv1, self.norm1), (self.conv2, self.norm2)):
            x = F.relu(conv(x.transpose(1, 2))).transpose(1, 2)
            x = F.dropout(norm(x), self.dropout, self.training)
        return self.proj(x).squeeze(-1)


def durations_from_log(log_dur: torch.Tensor) -> torch.Tensor:
    """The official rounding: clamp(round(exp(d) - 1), min=1), as int64."""
    return torch.clamp(torch.round(torch.exp(log_dur) - 1).long(), min=1)


class CodeHiFiGAN(nn.Module):
    """Conditioning + duration predictor + HiFi-GAN stack for one `VocoderConfig`."""

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.embedding_dim
        self.unit_embed = nn.Embedding(cfg.num_embeddings, d)
        self.pitch_embed = nn.Embedding(cfg.num_f0_tokens, d) if cfg.num_f0_tokens else None
        self.style_code_embed = nn.Embedding(cfg.num_style_tokens, d) if cfg.num_style_tokens else None
        self.speaker_embed = nn.Embedding(cfg.num_speakers, d) if cfg.num_speakers else None
        self.global_style_embed = nn.Embedding(cfg.num_styles, d) if cfg.num_styles else None
        self.duration = DurationPredictor(cfg) if cfg.duration_predictor else None
        self.stack = HiFiGANStack(cfg)

    # -- conditioning -------------------------------------------------------------------------
    @staticmethod
    def _lookup(table: nn.Embedding | None, ids: torch.Tensor | None, what: str) -> torch.Tensor | None:
        if table is None:
            if ids is not None:
                raise ValueError(f"this vocoder has no {what} conditioning, but {what} values were given")
            return None
        if ids is None:
            raise ValueError(f"this vocoder needs {what} values (0..{table.num_embeddings - 1})")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= table.num_embeddings):
            raise ValueError(f"{what} values must lie in 0..{table.num_embeddings - 1}, "
                             f"got {int(ids.min())}..{int(ids.max())}")
        return table(ids)

    def conditioning(self, units: torch.Tensor, pitch: torch.Tensor | None = None,
                     style: torch.Tensor | None = None, speaker: torch.Tensor | None = None,
                     global_style: torch.Tensor | None = None) -> torch.Tensor:
        """Frame-aligned codes [B, T] (+ per-utterance ids [B]) -> features [B, C_in, T]."""
        t = units.shape[1]
        parts = [self._lookup(self.unit_embed, units, "unit")]  # [B, T, D] each
        for table, ids, what in ((self.pitch_embed, pitch, "pitch code"),
                                 (self.style_code_embed, style, "style code")):
            emb = self._lookup(table, ids, what)
            if emb is not None:
                if emb.shape[1] != t:
                    raise ValueError(f"{what}s must be aligned to the units: {emb.shape[1]} vs {t} frames")
                parts.append(emb)
        for table, ids, what in ((self.speaker_embed, speaker, "speaker"),
                                 (self.global_style_embed, global_style, "style id")):
            emb = self._lookup(table, ids, what)
            if emb is not None:
                parts.append(emb.reshape(emb.shape[0], 1, -1).expand(-1, t, -1))
        return torch.cat(parts, dim=-1).transpose(1, 2)  # [B, C_in, T]

    def log_durations(self, units: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, T]
        if self.duration is None:
            raise ValueError("this vocoder has no duration predictor; give units with one unit per frame")
        return self.duration(self.unit_embed(units))

    def predict_durations(self, units: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, T] int64
        return durations_from_log(self.log_durations(units))

    def forward(self, units: torch.Tensor, pitch: torch.Tensor | None = None, style: torch.Tensor | None = None,
                speaker: torch.Tensor | None = None, global_style: torch.Tensor | None = None,
                durations: torch.Tensor | None = None) -> torch.Tensor:
        """Codes [B, T] -> waveform [B, T' * hop], T' = T or sum(durations) (then B must be 1)."""
        cond = self.conditioning(units, pitch, style, speaker, global_style)
        if durations is not None:
            if cond.shape[0] != 1:
                raise ValueError("durations apply to one utterance at a time (batch size 1)")
            cond = torch.repeat_interleave(cond, durations.reshape(-1), dim=2)
        return self.stack(cond)

    # -- weight norm (training only) ------------------------------------------------------------
    def apply_weight_norm(self) -> None:
        for conv in self.stack.convs():
            if not parametrize.is_parametrized(conv):
                weight_norm(conv)

    def remove_weight_norm(self) -> None:
        for conv in self.stack.convs():
            if parametrize.is_parametrized(conv):
                parametrize.remove_parametrizations(conv, "weight", leave_parametrized=True)
