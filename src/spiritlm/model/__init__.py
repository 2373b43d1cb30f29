"""Official import path `spiritlm.model` (see `spiritlm_model` and `utils`)."""
