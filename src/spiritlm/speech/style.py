"""The style tokenizer: one expressive-style token per second of speech (Spirit's `[St..]` units).

The released style encoder is a wav2vec2 classifier (Hugging Face `Wav2Vec2ForSequenceClassification`,
distilled to predict 100 Speechprop style clusters). Instead of one label per utterance it labels
every second::

    wav [N] ──normalise (zero mean, unit variance)──▶ wav2vec2 ──▶ last hidden state [1, T, H]  (50 Hz)
        ──projector──▶ [1, T, P] ──mean over consecutive 50-frame chunks (last may be partial)──▶ [1, ⌈T/50⌉, P]
        ──classifier──▶ logits [1, ⌈T/50⌉, C] ──argmax──▶ style units

A 9.135 s file gives 456 wav2vec2 frames and so 10 tokens. The official code downloads the
`facebook/wav2vec2-base` preprocessor config from the Hugging Face Hub at start-up; its only effect is
the per-utterance normalisation, which ships here as `PREPROCESSOR` — nothing is ever downloaded.
Input shorter than the wav2vec2 receptive field (400 samples) gives no token; audio longer than 100 s
is cut into 100 s chunks and chunks under 1280 samples are skipped, as the official tokenizer does.

Two folder formats load through the one door, `load(path)`, and `StyleTokenizer.save(path, format=)` writes
either:

* official ``style_encoder_w2v2/``: ``config.json`` + ``pytorch_model.bin`` (read with weights_only=True);
* ours: ``config.json`` + ``model.safetensors`` (also what `spiritlm train style` writes),
  whose config carries ``spiritlm_style`` = {pool_size, do_normalize} and the label names in ``id2label``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio import split_chunks
from ..checkpoints import check_save_format, resolve_speech_part
from .f0 import as_waveform

logger = logging.getLogger(__name__)

OFFICIAL_DIR_NAME = "style_encoder_w2v2"
PREPROCESSOR = {  # facebook/wav2vec2-base preprocessor_config.json, the values the official code fetches
    "do_normalize": True, "feature_size": 1, "padding_side": "right", "padding_value": 0.0,
    "return_attention_mask": False, "sampling_rate": 16000,
}
NORM_EPS = 1e-7  # variance floor of the wav2vec2 feature extractor


@dataclass(frozen=True)
class StyleConfig:
    pool_size: int = 50  # wav2vec2 frames (20 ms) per style token: 1 token per second
    do_normalize: bool = PREPROCESSOR["do_normalize"]


@dataclass(frozen=True, eq=False)
class StyleOutput:
    units: np.ndarray  # [n] int64
    logits: torch.Tensor  # [n, C]
    pooled: torch.Tensor  # [n, P] projected features averaged per second


def normalize_wav(wav: np.ndarray) -> np.ndarray:
    """Per-utterance zero mean, unit variance in float32 (Wav2Vec2FeatureExtractor, do_normalize=True)."""
    wav = np.asarray(wav, dtype=np.float32)
    return (wav - wav.mean()) / np.sqrt(wav.var() + NORM_EPS)


def pool_chunks(hidden: torch.Tensor, pool_size: int) -> torch.Tensor:
    """[B, T, D] -> [B, ceil(T / pool_size), D]: means over consecutive chunks, the last may be shorter."""
    return torch.stack([c.mean(dim=1) for c in hidden.split(pool_size, dim=1)], dim=1)


def receptive_field(conv_kernel, conv_stride) -> int:
    """Samples the wav2vec2 conv stack needs for one frame (400 for the base model)."""
    field, jump = 1, 1
    for k, s in zip(conv_kernel, conv_stride):
        field += (k - 1) * jump
        jump *= s
    return field


class StyleTokenizer:
    """Waveform -> style units at 1 Hz. See the module docstring."""

    def __init__(self, model, config: StyleConfig | None = None, device: str = "cpu") -> None:
        self.model = model.eval().to(device)
        self.config = config or StyleConfig()
        self.device = device
        mc = model.config
        self.min_samples = receptive_field(mc.conv_kernel, mc.conv_stride)

    # ---- saving (loading: the module's `load`) ------------------------------------------------
    def save(self, path: str | os.PathLike, format: str = "ours") -> Path:
        """"ours": config.json (with `spiritlm_style` = this `StyleConfig`) + model.safetensors; "official":
        Meta's `style_encoder_w2v2/`, config.json + pytorch_model.bin (Meta's encoder always pools 50 frames
        with normalisation, whatever this tokenizer's `StyleConfig`)."""
        check_save_format(format, "a style tokenizer")
        d = Path(path)
        if format == "official":
            d.mkdir(parents=True, exist_ok=True)
            self.model.config.save_pretrained(str(d))
            torch.save({k: v.contiguous() for k, v in self.model.state_dict().items()}, d / "pytorch_model.bin")
            return d
        self.model.config.spiritlm_style = asdict(self.config)
        self.model.save_pretrained(str(d))  # config.json + model.safetensors
        return d

    @property
    def labels(self) -> list[str]:
        id2label = self.model.config.id2label
        return [str(id2label[i]) for i in range(self.model.config.num_labels)]

    # ---- encoding -------------------------------------------------------------------------------
    @torch.no_grad()
    def forward_chunk(self, wav: np.ndarray) -> StyleOutput:
        """One chunk (no splitting) -> units, logits and pooled features."""
        wav = as_waveform(wav, "audio for the style encoder")
        if len(wav) < self.min_samples:
            n_cls = self.model.config.num_labels
            n_proj = self.model.projector.out_features
            return StyleOutput(np.zeros(0, np.int64), torch.zeros(0, n_cls), torch.zeros(0, n_proj))
        x = normalize_wav(wav) if self.config.do_normalize else wav
        x = torch.from_numpy(x)[None].to(self.device)  # [1, N]
        hidden = self.model.wav2vec2(x).last_hidden_state  # [1, T, H]
        pooled = pool_chunks(self.model.projector(hidden), self.config.pool_size)  # [1, n, P]
        logits = self.model.classifier(pooled)  # [1, n, C]
        units = logits.argmax(dim=-1)[0].cpu().numpy().astype(np.int64)
        return StyleOutput(units=units, logits=logits[0].cpu(), pooled=pooled[0].cpu())

    def encode(self, wav: np.ndarray) -> np.ndarray:
        """1-D float32 16 kHz waveform -> style units [n] int64, one per second (official chunking)."""
        wav = as_waveform(wav, "audio for the style encoder")
        units = [self.forward_chunk(chunk).units for chunk in split_chunks(wav)]
        return np.concatenate(units) if units else np.zeros(0, dtype=np.int64)

    __call__ = encode

    def num_units(self, n_samples: int) -> int:
        """How many units one chunk of `n_samples` gives (ceil(frames / pool_size))."""
        frames = self.model.wav2vec2._get_feat_extract_output_lengths(torch.tensor(n_samples)).item()
        return -(-int(frames) // self.config.pool_size) if n_samples >= self.min_samples else 0


def load(path: str | os.PathLike, device: str = "cpu"):
    """The one door to a style tokenizer, by path or by name under $SPIRITLM_CHECKPOINTS_DIR/speech_tokenizer/:
    Meta's `style_encoder_w2v2/` (config.json + pytorch_model.bin, read with weights_only=True; the
    wav2vec2-base normalisation, offline), ours (config.json + model.safetensors), or our prosodic style
    tokenizer (`speech.prosody_style`, config.json format "spiritlm-prosody-style")."""
    from .prosody_style import is_prosody_style, load_prosody_style

    d = resolve_speech_part(path, OFFICIAL_DIR_NAME)
    if not d.is_dir():
        raise FileNotFoundError(f"a style tokenizer is a folder; {d} is a file")
    if is_prosody_style(d):
        return load_prosody_style(d)
    if (d / "model.safetensors").is_file():
        model = _load_hf(d, "model.safetensors")
        return StyleTokenizer(model, StyleConfig(**(getattr(model.config, "spiritlm_style", None) or {})), device)
    if (d / "pytorch_model.bin").is_file():
        return StyleTokenizer(_load_hf(d, "pytorch_model.bin"), StyleConfig(), device)
    raise FileNotFoundError(f"{d} holds neither config.json + model.safetensors (ours) nor config.json + "
                            f"pytorch_model.bin (official); it has {sorted(p.name for p in d.iterdir())}")


def _load_hf(d: Path, weights: str):
    from transformers import Wav2Vec2ForSequenceClassification

    if not (d / "config.json").is_file() or not (d / weights).is_file():
        raise FileNotFoundError(f"{d} needs config.json and {weights}")
    from ..torch_files import readable_weights

    with readable_weights(d, "the style encoder weights"):
        model = Wav2Vec2ForSequenceClassification.from_pretrained(str(d), local_files_only=True, dtype=torch.float32)
    logger.info("style encoder loaded from %s (%d classes)", d, model.config.num_labels)
    return model
