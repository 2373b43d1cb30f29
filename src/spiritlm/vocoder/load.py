"""The one door to a vocoder folder: `load_vocoder(path)` recognises each format we read.

It sits apart from `unit_vocoder.py` and `spectral.py` so that neither imports the other back:
`spectral.SpectralVocoder` extends `unit_vocoder.UnitVocoder`, and only this module knows both.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .spectral import is_spectral_folder, load_spectral
from .unit_vocoder import UnitVocoder, load_hifigan
from .world import is_world_folder, load_world


def load_vocoder(path: str | Path, default_speaker: int | str | None = None,
                 default_style: int | str | None = None, device: str | torch.device = "cpu") -> UnitVocoder:
    """An official vocoder folder (config.json + generator.pt), one of ours (model.safetensors), or a
    spectral vocoder (config.json format "spiritlm-spectral-vocoder") or a WORLD vocoder
    ("spiritlm-world-vocoder")."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"vocoder folder {folder} does not exist")
    if is_spectral_folder(folder):
        return load_spectral(folder, default_speaker, default_style, device)
    if is_world_folder(folder):
        return load_world(folder, default_speaker, default_style, device)
    return load_hifigan(folder, default_speaker, default_style, device)
