"""spiritlm: interleaved spoken and written language modelling (a re-implementation of Spirit LM).

    from spiritlm import SpiritLM
    lm = SpiritLM.from_pretrained("spirit-lm-base-7b")      # a name or any checkpoint folder
    print(lm.generate([("text", "The largest country in the world is")], output_modality="text").text)

Names are imported lazily, so `import spiritlm` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SpiritLM": "spiritlm.generation.pipeline",
    "GenerationResult": "spiritlm.generation.types",
    "GenerationInput": "spiritlm.generation.types",
    "GenerationOutput": "spiritlm.generation.types",
    "GenerationOuput": "spiritlm.generation.types",
    "ContentType": "spiritlm.generation.types",
    "OutputModality": "spiritlm.generation.types",
    "Spiritlm": "spiritlm.model.spiritlm_model",
    "SpeechUnits": "spiritlm.units",
    "TokenLayout": "spiritlm.vocab",
    "load_audio": "spiritlm.audio",
    "write_audio": "spiritlm.audio",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'spiritlm' has no attribute {name!r}")
