"""A unit vocoder that learns in CPU minutes and keeps the harmonics: a regression to WORLD features.

A smooth predicted magnitude spectrum rendered by Griffin-Lim loses the harmonics (the spectral
vocoder's lesson: its speech was not intelligible). WORLD (Morise et al., 2016; `pyworld`) separates
speech into F0, a smooth spectral envelope and aperiodicity, and its synthesizer makes the harmonics
from F0. So a small network regresses exactly the smooth parts, which a mean-squared regression can
learn, and the excitation comes from the F0 it predicts (Base) or from the `[Pi]` tokens' embedding
(Expressive, where pitch must be audible)::

    units ─(durations, unit / pitch / style / speaker embeddings of a CodeHiFiGAN)─▶ cond [C, T] 25 Hz
          ─(conv ×3 [+ forward GRU], upsample ×4, conv ×2)─▶ WORLD frames [43, 4T] at 100 Hz:
               40 coded spectral envelope + 1 coded aperiodicity + log F0 + voicing logit
          ─(pyworld.synthesize)─▶ 16 kHz wav

Features are standardised with the training set's mean / std, stored in the folder's config.json
(`"format": "spiritlm-world-vocoder"`, plus the VocoderConfig of the embeddings and duration
predictor). It has `UnitVocoder`'s interface and loads through `load_vocoder`. WORLD synthesis is
cheap (real-time factor ~0.02 on one core). `stream` yields the offline waveform in pieces, sample for sample.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..checkpoints import check_save_format
from .unit_vocoder import UnitVocoder

logger = logging.getLogger(__name__)

WORLD_FORMAT = "spiritlm-world-vocoder"
SAMPLE_RATE = 16000
FRAME_MS = 10.0
HOP = 160
N_FFT = 512  # pyworld's CheapTrick FFT size at 16 kHz
STREAM_MARGIN = 4  # WORLD frames before a rendered prefix's end that may still change (measured: 2.6)


@dataclass(frozen=True)
class WorldConfig:
    sp_dims: int = 40
    channels: int = 256
    kernel: int = 5
    rnn: int = 0  # hidden size of a forward (causal) GRU over the unit-rate features (0: none)
    mean: list[float] = field(default_factory=list)  # per feature, from the training set
    std: list[float] = field(default_factory=list)
    # global-variance compensation of the envelope + aperiodicity columns (empty: none): a regression's frames
    # vary less about their utterance's mean than real speech does (over-smoothed formants, muffled speech);
    # each column's deviations are scaled by this ratio, fitted on training utterances (`fit_gv`)
    gv: list[float] = field(default_factory=list)
    # deviations from what: "utterance" (its mean, the classic compensation) or "global" (the training mean:
    # frame by frame, so frames never depend on units far ahead)
    gv_center: str = "utterance"

    @property
    def dims(self) -> int:
        return self.sp_dims + 3  # + coded aperiodicity, log F0, voicing


def _pyworld():
    try:
        import pyworld
    except ImportError as e:  # pragma: no cover - the speech extra installs it
        raise ImportError("the WORLD vocoder needs pyworld: pip install 'spiritlm[speech]'") from e
    return pyworld


def analyze(wav: np.ndarray, sp_dims: int = 40) -> np.ndarray:
    """16 kHz waveform -> WORLD frames [F, sp_dims + 3] every 10 ms (F = len // 160 + 1).

    Columns: coded spectral envelope, coded aperiodicity, log F0 (interpolated across unvoiced
    frames, so the regression target is smooth), voicing (1 voiced / 0 unvoiced)."""
    pw = _pyworld()
    x = np.ascontiguousarray(wav, dtype=np.float64)
    f0, t = pw.dio(x, SAMPLE_RATE, frame_period=FRAME_MS)
    f0 = pw.stonemask(x, f0, t, SAMPLE_RATE)
    sp = pw.cheaptrick(x, f0, t, SAMPLE_RATE)
    ap = pw.d4c(x, f0, t, SAMPLE_RATE)
    coded_sp = pw.code_spectral_envelope(sp, SAMPLE_RATE, sp_dims)  # [F, sp_dims]
    coded_ap = pw.code_aperiodicity(ap, SAMPLE_RATE)  # [F, 1] at 16 kHz
    voiced = f0 > 0
    lf0 = np.zeros_like(f0)
    if voiced.any():
        idx = np.arange(len(f0))
        lf0 = np.interp(idx, idx[voiced], np.log(f0[voiced]))
    else:
        lf0[:] = np.log(100.0)
    return np.concatenate([coded_sp, coded_ap, lf0[:, None], voiced[:, None].astype(np.float64)], 1).astype(
        np.float32)


def render(frames: np.ndarray, sp_dims: int = 40) -> np.ndarray:
    """WORLD frames [F, sp_dims + 3] (voicing as a probability) -> 16 kHz float32 waveform."""
    pw = _pyworld()
    f = np.asarray(frames, dtype=np.float64)
    if len(f) == 0:
        return np.zeros(0, dtype=np.float32)
    coded_sp = np.ascontiguousarray(f[:, :sp_dims])
    coded_ap = np.ascontiguousarray(np.minimum(f[:, sp_dims:sp_dims + 1], 0.0))  # aperiodicity <= 0 dB
    f0 = np.where(f[:, sp_dims + 2] > 0.5, np.exp(np.clip(f[:, sp_dims + 1], np.log(40.0), np.log(800.0))), 0.0)
    sp = pw.decode_spectral_envelope(coded_sp, SAMPLE_RATE, N_FFT)
    ap = pw.decode_aperiodicity(coded_ap, SAMPLE_RATE, N_FFT)
    wav = pw.synthesize(np.ascontiguousarray(f0), sp, ap, SAMPLE_RATE, FRAME_MS)
    return wav.astype(np.float32)


def apply_gv(frames: np.ndarray, gv: list[float], center: np.ndarray | None = None) -> np.ndarray:
    """Scale the first len(gv) columns' deviations from their mean over the utterance (or from `center`, per
    column) by `gv` (see WorldConfig). `stream` regresses the whole utterance's frames at once, so it stays exact."""
    if not gv or len(frames) == 0:
        return frames
    k = len(gv)
    mu = frames[:, :k].mean(0, keepdims=True) if center is None else np.asarray(center, frames.dtype)[None, :k]
    frames[:, :k] = mu + (frames[:, :k] - mu) * np.asarray(gv, dtype=frames.dtype)
    return frames


def fit_gv(pairs, columns: int, limits: tuple[float, float] = (1.0, 2.5)) -> list[float]:
    """Per-column ratio of the real frames' spread about their utterance mean to the predicted frames' spread,
    pooled over utterances. `pairs`: (real [F, D], predicted [F, D]) per utterance."""
    real = np.zeros(columns)
    pred = np.zeros(columns)
    for r, p in pairs:
        r, p = np.asarray(r, np.float64)[:, :columns], np.asarray(p, np.float64)[:, :columns]
        real += ((r - r.mean(0)) ** 2).sum(0)
        pred += ((p - p.mean(0)) ** 2).sum(0)
    ratio = np.sqrt(real / np.maximum(pred, 1e-12))
    return [round(float(x), 4) for x in np.clip(ratio, *limits)]


class WorldHead(nn.Module):
    """Conditioning [B, C_in, T] at the unit rate -> standardised WORLD frames [B, dims, T * up]."""

    def __init__(self, c_in: int, cfg: WorldConfig, up: int):
        super().__init__()
        k, ch = cfg.kernel, cfg.channels
        self.up = up
        self.inp = nn.Conv1d(c_in, ch, k, padding=k // 2)
        self.low = nn.ModuleList(nn.Conv1d(ch, ch, k, padding=k // 2) for _ in range(3))
        # the convolutions see +-8 units; a forward GRU adds everything said before (phrase-level prosody)
        # while a frame still depends on at most `lookahead` units ahead, so that speech can stream
        self.rnn = nn.GRU(ch, cfg.rnn, batch_first=True) if cfg.rnn else None
        self.rnn_out = nn.Linear(cfg.rnn, ch) if cfg.rnn else None
        self.high = nn.ModuleList(nn.Conv1d(ch, ch, k, padding=k // 2) for _ in range(2))
        self.out = nn.Conv1d(ch, cfg.dims, 1)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.inp(cond))
        for conv in self.low:
            x = x + torch.relu(conv(x))
        if self.rnn is not None:
            x = x + self.rnn_out(self.rnn(x.transpose(1, 2))[0]).transpose(1, 2)
        x = torch.repeat_interleave(x, self.up, dim=2)
        for conv in self.high:
            x = x + torch.relu(conv(x))
        return self.out(x)


class WorldVocoder(UnitVocoder):
    """A `UnitVocoder` whose waveform is WORLD-rendered from regressed features (see the module docstring)."""

    def __init__(self, model, head: WorldHead, world: WorldConfig, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        self.head = head.to(self.device).eval()
        self.world = world

    def predict_frames(self, cond: torch.Tensor) -> np.ndarray:
        """cond [1, C, T] -> de-standardised WORLD frames [4T, dims], voicing as a probability."""
        with torch.inference_mode():
            z = self.head(cond)[0].float().cpu().numpy().T  # [4T, dims]
        mean, std = np.asarray(self.world.mean, np.float32), np.asarray(self.world.std, np.float32)
        frames = z * std + mean
        frames[:, -1] = 1.0 / (1.0 + np.exp(-z[:, -1]))  # the voicing column is a logit, not standardised
        center = np.asarray(self.world.mean, np.float32) if self.world.gv_center == "global" else None
        return apply_gv(frames, self.world.gv, center)

    def _frames(self, plan, speaker, style) -> tuple[np.ndarray, int]:
        """Plan -> (WORLD frames [F, dims], output length in samples)."""
        cond = self.features(plan, speaker, style)  # [1, C, T]
        return self.predict_frames(cond), cond.shape[-1] * self.config.hop_length

    @staticmethod
    def _finish(wav: np.ndarray, n: int, start: int = 0) -> np.ndarray:
        """Samples [start, n) of a rendering, zero-padded past its end and clipped to +-0.99 (sample by sample,
        so that streamed pieces equal the offline waveform)."""
        piece = wav[start:n]
        piece = np.pad(piece, (0, max(0, n - start - len(piece))))
        return np.clip(piece, -0.99, 0.99).astype(np.float32)

    def _render(self, plan, speaker, style) -> np.ndarray:
        if len(plan.units) == 0:
            return np.zeros(0, dtype=np.float32)
        frames, n = self._frames(plan, speaker, style)
        return self._finish(render(frames, self.world.sp_dims), n)

    def stream(self, units, speaker_id=None, style_id=None, chunk_units: int = 50, first_chunk_units: int | None = 10,
               dur_pred: bool = True, mode: str = "stateful") -> Iterator[np.ndarray]:
        """Yield pieces whose concatenation equals `decode` of the same input, sample for sample.

        The features of the whole input are regressed once (milliseconds); WORLD then renders growing
        prefixes of them. A prefix's rendering equals the full one up to about 2.6 frames before its end
        (the last pulses' responses overlap the cut), so each piece stops STREAM_MARGIN frames earlier.
        Pieces cover about `first_chunk_units`, then `chunk_units` units (40 ms each); `mode` is accepted
        for interface compatibility: both modes give this exact stream."""
        from .decode import plan_decode
        from .unit_vocoder import STREAM_MODES

        if mode not in STREAM_MODES:
            raise ValueError(f"unknown stream mode {mode!r}; valid: {', '.join(STREAM_MODES)}")
        if chunk_units < 1 or (first_chunk_units is not None and first_chunk_units < 1):
            raise ValueError(f"chunk_units and first_chunk_units must be >= 1, got {chunk_units}, {first_chunk_units}")
        plan = plan_decode(units, self.config, dur_pred=dur_pred)
        if len(plan.units) == 0:
            return
        frames, n = self._frames(plan, self.speaker_index(speaker_id), self.style_index(style_id))
        per_unit = self.config.hop_length // HOP  # WORLD frames per unit frame
        sent, edge = 0, first_chunk_units or chunk_units
        while True:
            cut = edge * per_unit  # render frames [0, cut)
            if cut >= len(frames):
                yield self._finish(render(frames, self.world.sp_dims), n, sent)
                return
            upto = min(n, (cut - STREAM_MARGIN) * HOP)
            if upto > sent:
                yield self._finish(render(frames[:cut], self.world.sp_dims), upto, sent)
                sent = upto
            edge += chunk_units

    def save(self, folder: str | Path, format: str = "ours") -> Path:
        check_save_format(format, "a WORLD vocoder (no counterpart in Meta's code)", ("ours",))
        return save_world(folder, self)


def save_world(folder: str | Path, voc: WorldVocoder, defaults: dict | None = None) -> Path:
    from safetensors.torch import save_file

    from .convert import _write_names

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"format": WORLD_FORMAT, "config": voc.config.to_dict(), "world": asdict(voc.world)}
    if defaults:
        cfg["defaults"] = defaults
    (folder / "config.json").write_text(json.dumps(cfg, indent=1))
    # only what WORLD synthesis uses: embeddings and the duration predictor, not the HiFi-GAN's upsampler
    keep = {k: v for k, v in voc.model.state_dict().items() if _kept(k)}
    weights = {f"units.{k}": v.detach().contiguous().cpu() for k, v in keep.items()}
    weights |= {f"head.{k}": v.detach().contiguous().cpu() for k, v in voc.head.state_dict().items()}
    save_file(weights, str(folder / "model.safetensors"))
    _write_names(folder, voc.speakers, voc.styles)
    return folder


def _kept(key: str) -> bool:
    return "embed" in key or key.startswith("duration.")


def is_world_folder(folder: str | Path) -> bool:
    p = Path(folder) / "config.json"
    try:
        return p.is_file() and json.loads(p.read_text()).get("format") == WORLD_FORMAT
    except (json.JSONDecodeError, AttributeError):
        return False


def build_head(model, world: WorldConfig) -> WorldHead:
    from .spectral import _dummy_streams

    with torch.no_grad():
        c_in = model.conditioning(torch.zeros(1, 2, dtype=torch.long), *_dummy_streams(model)).shape[1]
    hop = model.cfg.hop_length
    if hop % HOP:
        raise ValueError(f"the unit hop ({hop}) must be a multiple of WORLD's 10 ms hop ({HOP})")
    return WorldHead(c_in, world, hop // HOP)


def load_world(folder: str | Path, default_speaker=None, default_style=None, device="cpu") -> WorldVocoder:
    from safetensors.torch import load_file

    from .config import VocoderConfig
    from .convert import read_names
    from .hifigan import CodeHiFiGAN
    from .unit_vocoder import folder_defaults

    folder = Path(folder)
    raw = json.loads((folder / "config.json").read_text())
    cfg = VocoderConfig.from_dict(raw["config"])
    world = WorldConfig(**raw["world"])
    model = CodeHiFiGAN(cfg)
    head = build_head(model, world)
    weights = load_file(str(folder / "model.safetensors"))
    units = {k[len("units."):]: v for k, v in weights.items() if k.startswith("units.")}
    missing, unexpected = model.load_state_dict(units, strict=False)
    missing = [k for k in missing if _kept(k)]
    head_sd = {k[len("head."):]: v for k, v in weights.items() if k.startswith("head.")}
    h_missing, h_unexpected = head.load_state_dict(head_sd, strict=False)
    if missing or unexpected or h_missing or h_unexpected:
        raise ValueError(f"WORLD vocoder weights in {folder} do not match its config.json: missing "
                         f"{sorted(missing + h_missing)[:8]}, unexpected {sorted(unexpected + h_unexpected)[:8]}")
    if world.gv_center not in ("utterance", "global"):
        raise ValueError(f"{folder}/config.json: unknown world.gv_center {world.gv_center!r}; valid: utterance, global")
    if len(world.mean) != world.dims or len(world.std) != world.dims:
        raise ValueError(f"{folder}/config.json: world.mean and world.std need {world.dims} values each")
    fs, fst = folder_defaults(folder, cfg, official=False)
    logger.info("loaded WORLD vocoder from %s (%s, %d speakers)", folder,
                "Expressive" if cfg.is_expressive else "Base", cfg.num_speakers)
    return WorldVocoder(model, head, world, read_names(folder / "speakers.txt"), read_names(folder / "styles.txt"),
                        fs if default_speaker is None else default_speaker,
                        fst if default_style is None else default_style, device)
