"""`spiritlm train ...`: one subcommand per trainable part. Sub-modules register their commands."""

from __future__ import annotations

import importlib

TRAIN_MODULES: list[str] = ["spiritlm.training.lm", "spiritlm.training.vqvae", "spiritlm.training.style",
                              "spiritlm.training.vocoder", "spiritlm.training.kmeans", "spiritlm.training.hubert",
                              "spiritlm.training.spectral_vocoder", "spiritlm.training.phone_encoder",
                              "spiritlm.training.prosody_style", "spiritlm.training.world_vocoder",
                              "spiritlm.eval.prosody"]
# each has register(subparsers)


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model part (lm, vocoder, quantizer, ...)")
    tsub = p.add_subparsers(dest="train_command", required=True, metavar="PART")
    for name in TRAIN_MODULES:
        importlib.import_module(name).register(tsub)
