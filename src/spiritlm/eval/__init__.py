"""Evaluation: one module per benchmark, each with `run(config)`."""
