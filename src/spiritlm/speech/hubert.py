"""HuBERT features: waveform -> hidden states of one transformer layer, 25 (or 50) frames per second.

HuBERT is a conv stack (7 strided convolutions, 640 samples per frame for the 25 Hz model) and a
transformer. The Spirit tokenizer reads the output of layer 11 (1-based; the 12th layer never
runs) and quantizes it. The model is `transformers.HubertModel` built from the checkpoint's
shape (see `hubert_convert`); this module adds what the official tokenizer does around it::

    wav [B, T] --(normalize?)--> conv stack [B, C, F] --> projection + pos-conv + layers 1..11 --> [B, F, D]

Batching pads waveforms with zeros. Two places would let the padding leak into real frames, and
both are masked so that a batch gives the same features as one file at a time:

* the GroupNorm of the first conv (statistics over time) uses valid frames only;
* attention ignores padded frames (`attention_mask`).

The official encoder pads the frame sequence to an even length with a key-padding mask; a masked
key contributes nothing, so running without that padding gives the same result.

Files go through one door each way: `load(path)` reads Meta's converted `.pt`, a fairseq checkpoint,
our folder, or our phone encoder's folder (`phone_encoder`); `HubertFeatures.save(path, format=)` writes
"ours" or "official".

    >>> feats = HubertFeatures(hubert_preset("tiny"), layer=11)
    >>> feats.num_frames(146160)
    228
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn

from ..checkpoints import check_save_format, resolve_speech_part
from .hubert_convert import (
    HubertSpec,
    hf_to_official,
    official_to_hf,
    read_official_hubert,
    with_layers,
    write_official_hubert,
)
from .phone_encoder import PHONE_ENCODER_FORMAT, PhoneEncoder, is_phone_encoder, load_phone_encoder

logger = logging.getLogger(__name__)

SAFETENSORS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
OUR_MODEL_TYPE = "spiritlm-hubert"


class HubertFeatures(nn.Module):
    """Dense HuBERT features of layer `layer` (1-based; None = all layers, with the final LN if pre-LN)."""

    def __init__(self, spec: HubertSpec, layer: int | None = 11) -> None:
        super().__init__()
        from transformers import HubertModel

        if layer is not None and layer < 1:
            raise ValueError(f"HuBERT output layer is 1-based and must be >= 1, got {layer}")
        self.spec = spec
        self.layer = layer
        # As the official code: an output layer past the last one returns the last layer.
        self.n_layers = spec.layers if layer is None else min(layer, spec.layers)
        if layer is not None and layer > spec.layers:
            logger.warning("HuBERT has %d layers; output layer %d falls back to the last one", spec.layers, layer)
        self.model = HubertModel(spec.hf_config(self.n_layers))
        if spec.layer_norm_first and layer is not None:
            self.model.encoder.layer_norm = nn.Identity()  # no final LN when a layer is asked for
        self.eval()

    @property
    def dim(self) -> int:
        return self.spec.embed_dim

    @property
    def hop(self) -> int:
        return self.spec.hop

    def num_frames(self, n_samples: int) -> int:
        return self.spec.num_frames(n_samples)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        n = lengths.long()
        for _, k, s in self.spec.conv_layers:
            n = torch.where(n >= k, torch.div(n - k, s, rounding_mode="floor") + 1, torch.zeros_like(n))
        return n

    # ------------------------------------------------------------------ forward

    def _normalize(self, wav: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-utterance zero mean, unit variance over the valid samples (F.layer_norm, eps 1e-5)."""
        n = lengths.clamp(min=1).to(wav.dtype)[:, None]
        mean = (wav * mask).sum(1, keepdim=True) / n
        var = (((wav - mean) * mask) ** 2).sum(1, keepdim=True) / n
        return (wav - mean) / torch.sqrt(var + 1e-5) * mask

    def _conv(self, wav: torch.Tensor, lengths: torch.Tensor, padded: bool) -> torch.Tensor:
        layers = self.model.feature_extractor.conv_layers
        x = wav[:, None]  # [B, 1, T]
        start = 0
        if padded and self.spec.extractor_mode == "default":
            first = layers[0]
            x = first.conv(x)  # [B, C, F0]
            n0 = self._first_lengths(lengths)
            valid = (torch.arange(x.shape[-1], device=x.device)[None] < n0[:, None]).to(x.dtype)[:, None]
            count = n0.clamp(min=1).to(x.dtype)[:, None, None]
            mean = (x * valid).sum(-1, keepdim=True) / count
            var = (((x - mean) * valid) ** 2).sum(-1, keepdim=True) / count
            gn = first.layer_norm
            x = (x - mean) / torch.sqrt(var + gn.eps) * gn.weight[:, None] + gn.bias[:, None]
            x = first.activation(x)
            start = 1
        for conv_layer in layers[start:]:
            x = conv_layer(x)
        return x  # [B, C, F]

    def _first_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        _, k, s = self.spec.conv_layers[0]
        return torch.where(lengths >= k, torch.div(lengths - k, s, rounding_mode="floor") + 1,
                           torch.zeros_like(lengths))

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """wav [B, T] float32 (zero-padded), lengths [B] -> (features [B, F, D], frame lengths [B]).

        `mask` [B, F] bool (training): those frames enter the transformer as the learned mask embedding.
        """
        if wav.ndim == 1:
            wav = wav[None]
        if wav.ndim != 2:
            raise ValueError(f"HubertFeatures takes [T] or [B, T] waveforms, got shape {tuple(wav.shape)}")
        wav = wav.float()
        B, T = wav.shape
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=wav.device)
        lengths = lengths.long().to(wav.device)
        padded = bool((lengths < T).any())
        sample_mask = (torch.arange(T, device=wav.device)[None] < lengths[:, None]).to(wav.dtype)
        if self.spec.normalize:
            wav = self._normalize(wav, lengths, sample_mask)
        frames = self.frame_lengths(lengths)  # [B]
        x = self._conv(wav, lengths, padded).transpose(1, 2)  # [B, F, C]
        if x.shape[1] == 0:
            return x.new_zeros(B, 0, self.dim), frames
        h = self.model.feature_projection(x)  # [B, F, D]
        if mask is not None:
            h = torch.where(mask[..., None], self.model.masked_spec_embed.to(h.dtype), h)
        attn = None
        if padded:
            attn = torch.arange(h.shape[1], device=h.device)[None] < frames[:, None]  # [B, F] bool
        out = self.model.encoder(h, attention_mask=attn).last_hidden_state  # [B, F, D]
        return out, frames

    def load_hf_state(self, state: dict[str, torch.Tensor]) -> None:
        own = self.model.state_dict()
        if self.spec.layer_norm_first and self.layer is not None:  # final LN replaced by Identity: unused
            state = {k: v for k, v in state.items() if not k.startswith("encoder.layer_norm.")}
        if "masked_spec_embed" not in state and "masked_spec_embed" in own:
            state = dict(state, masked_spec_embed=own["masked_spec_embed"])
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"HuBERT weights do not fit the model: missing {sorted(missing)[:5]}, "
                             f"unexpected {sorted(unexpected)[:5]}")

    def save(self, path: str | Path, format: str = "ours", dictionaries: list | None = None) -> Path:
        """Write the layers this model runs. "ours": a folder (model.safetensors + config.json);
        "official": Meta's converted file (`hubert_25hz/mhubert_base_25hz.pt`, fairseq key names), with
        `dictionaries` as its `dictionaries_symbols`. Returns what was written."""
        from safetensors.torch import save_file

        check_save_format(format, "a HuBERT")
        spec = self.spec if self.n_layers == self.spec.layers else with_layers(self.spec, self.n_layers)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        if format == "official":
            return write_official_hubert(path, spec, hf_to_official(state, spec), dictionaries)
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        save_file(state, str(directory / SAFETENSORS_NAME))
        cfg = {"model_type": OUR_MODEL_TYPE, "spec": spec.to_dict(), "layer": self.layer}
        (directory / CONFIG_NAME).write_text(json.dumps(cfg, indent=2))
        return directory


def _beyond(key: str, n_layers: int) -> bool:
    parts = key.split(".")
    return key.startswith("encoder.layers.") and int(parts[2]) >= n_layers


def _read_official(path: Path, layer: int | None, allow_pickle: bool) -> HubertFeatures:
    ckpt = read_official_hubert(path, allow_pickle=allow_pickle)
    model = HubertFeatures(ckpt.spec, layer)
    model.load_hf_state(official_to_hf(ckpt.state, ckpt.spec, model.n_layers))
    return model


def _read_ours(directory: Path, layer: int | None) -> HubertFeatures:
    from safetensors.torch import load_file

    cfg_path = directory / CONFIG_NAME
    if not cfg_path.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} in {directory} (expected a HuBERT folder written by save)")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("model_type") != OUR_MODEL_TYPE:
        raise ValueError(f"{cfg_path} is not a spiritlm HuBERT config (model_type={cfg.get('model_type')!r}; "
                         f"expected {OUR_MODEL_TYPE!r} or a phone encoder's format {PHONE_ENCODER_FORMAT!r})")
    model = HubertFeatures(HubertSpec.from_dict(cfg["spec"]), cfg.get("layer") if layer is None else layer)
    state = load_file(str(directory / SAFETENSORS_NAME))
    model.load_hf_state({k: v for k, v in state.items() if not _beyond(k, model.n_layers)})
    return model


def load(source: str | Path, layer: int | None = 11, allow_pickle: bool = False) -> HubertFeatures | PhoneEncoder:
    """The one door to a HuBERT, by path or by name under $SPIRITLM_CHECKPOINTS_DIR/speech_tokenizer/:

    * Meta's converted `.pt` or a fairseq checkpoint (`allow_pickle=True` lets old fairseq files that pickle
      an `argparse.Namespace` load; trusted files only);
    * our folder (config.json "spiritlm-hubert" + model.safetensors; `layer=None` keeps its saved layer);
    * our phone encoder's folder (config.json "spiritlm-phone-encoder"), which has the same interface
      and no layers to choose.
    """
    path = resolve_speech_part(source, "hubert_25hz/mhubert_base_25hz.pt or a folder written by save")
    if not path.is_dir():
        return _read_official(path, layer, allow_pickle)
    if is_phone_encoder(path):
        return load_phone_encoder(path)
    return _read_ours(path, layer)
