"""A complete tiny checkpoints root with random weights, in Meta's layout, LM and speech parts::

    <root>/spiritlm_model/spirit-lm-{base,expressive}-7b/       tiny Llama + SentencePiece
    <root>/speech_tokenizer/hubert_25hz/{mhubert_base_25hz.pt, L11_quantizer_500.pt}
    <root>/speech_tokenizer/vqvae_f0_quantizer/{config.yaml, model.pt}
    <root>/speech_tokenizer/style_encoder_w2v2/{config.json, pytorch_model.bin}
    <root>/speech_tokenizer/hifigan_spiritlm_base/, hifigan_spiritlm_expressive_w2v2/

Every file is in the official format, so `Spiritlm("spirit-lm-expressive-7b")` with
``SPIRITLM_CHECKPOINTS_DIR=<root>`` runs the official examples end to end (with noise for output).
The speech inventories follow the released sizes where the LM can emit them (501 Hu, 64 Pi, 100 St
in the vocoders), so any id the LM generates can be synthesized.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from ..speech.random_checkpoints import randomize_

SPEAKERS = ["ex01", "ex02", "ex03", "ex04"]


def write_tiny_pitch(folder: Path, seed: int = 0) -> Path:
    from ..speech.pitch import PitchConfig, PitchTokenizer
    from ..speech.vqvae import VQVAE, VQVAEConfig

    cfg = VQVAEConfig.preset("tiny")
    config = PitchConfig(vqvae=replace(cfg, vq=replace(cfg.vq, l_bins=64)), features="norm_f0_interp,vuv")
    return PitchTokenizer(config, randomize_(VQVAE(config.vqvae), seed)).save(folder, format="official")


def write_tiny_style(folder: Path, seed: int = 0, num_labels: int = 100) -> Path:
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification

    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
        conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, num_labels=num_labels, classifier_proj_size=16)
    torch.manual_seed(seed)
    model = randomize_(Wav2Vec2ForSequenceClassification(config).eval(), seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(str(folder))
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "pytorch_model.bin")
    return folder


def write_tiny_vocoder(folder: Path, expressive: bool, seed: int = 0) -> Path:
    from ..vocoder.config import VocoderConfig
    from ..vocoder.convert import save_official
    from ..vocoder.hifigan import CodeHiFiGAN

    cfg = VocoderConfig.preset("tiny_expressive" if expressive else "tiny")
    cfg = replace(cfg, num_embeddings=501, **({"num_f0_tokens": 64, "num_style_tokens": 100} if expressive else {}))
    torch.manual_seed(seed)
    model = CodeHiFiGAN(cfg)
    styles = None if expressive else [f"style{i}" for i in range(cfg.num_styles)]
    return save_official(folder, cfg, model.state_dict(), SPEAKERS, styles)


def write_tiny_speech(root: str | Path, seed: int = 0) -> Path:
    """`<root>/speech_tokenizer/` with every official component (random, tiny)."""
    from ..speech.random_checkpoints import write_hubert_checkpoints

    root = Path(root)
    base = root / "speech_tokenizer"
    write_hubert_checkpoints(root, "tiny", vocab_size=500, seed=seed)
    write_tiny_pitch(base / "vqvae_f0_quantizer", seed)
    write_tiny_style(base / "style_encoder_w2v2", seed)
    write_tiny_vocoder(base / "hifigan_spiritlm_base", expressive=False, seed=seed)
    write_tiny_vocoder(base / "hifigan_spiritlm_expressive_w2v2", expressive=True, seed=seed)
    return base


def write_tiny_root(root: str | Path, official_vocab: bool = True, seed: int = 0) -> Path:
    """Both LMs and all speech parts; `official_vocab` gives the LMs Llama-2's 32000 text ids."""
    from ..lm.tiny import write_tiny_checkpoint_root

    root = Path(root)
    for i, variant in enumerate(("base", "expressive")):
        write_tiny_checkpoint_root(root, variant, text_vocab_size=32000 if official_vocab else None, seed=seed + i)
    write_tiny_speech(root, seed)
    return root
