"""Unit vocoders: Spirit's speech-resynthesis HiFi-GAN ("CodeHiFiGAN"), Base and Expressive.

    units (25 Hz HuBERT [+ 12.5 Hz pitch, 1 Hz style]) -> frame features -> HiFi-GAN -> 16 kHz wav

`load_vocoder(folder)` reads an official release folder (`generator.pt`) or one of ours
(`model.safetensors`); `UnitVocoder.synthesize / decode / stream` turn units into audio.
Modules: `config` (sizes, presets, official config keys), `hifigan` (generator, duration
predictor), `convert` (checkpoint formats), `decode` (official decoding rules), `streaming`
(chunked synthesis equal to offline), `discriminators` (training only).
"""

from .config import PRESETS, VocoderConfig
from .hifigan import CodeHiFiGAN
from .load import load_vocoder
from .unit_vocoder import UnitVocoder

__all__ = ["PRESETS", "CodeHiFiGAN", "UnitVocoder", "VocoderConfig", "load_vocoder"]
