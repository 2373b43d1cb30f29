"""Prompt building, modality constraints and generation (see `pipeline.SpiritLM`)."""
