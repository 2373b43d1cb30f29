"""The official import path `spiritlm.speech_tokenizer` (re-exports only).

    from spiritlm.speech_tokenizer import spiritlm_base, spiritlm_expressive
    tokenizer = spiritlm_base()                  # reads $SPIRITLM_CHECKPOINTS_DIR/speech_tokenizer/...
    tokenizer.encode_string("audio.wav")         # '[Hu99][Hu49]...'
"""

from .factories import spiritlm_base, spiritlm_expressive, spiritlm_hubert
from .spiritlm_tokenizer import HubertTokenizer, SpiritLMTokenizer, string_to_units, units_to_string

__all__ = ["HubertTokenizer", "SpiritLMTokenizer", "spiritlm_base", "spiritlm_expressive", "spiritlm_hubert",
           "string_to_units", "units_to_string"]
