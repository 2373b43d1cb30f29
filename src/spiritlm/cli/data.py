"""`spiritlm data ...`: corpus building and preprocessing. Sub-modules register their commands."""

from __future__ import annotations

import importlib

# each module has register(subparsers)
DATA_MODULES: list[str] = ["spiritlm.data.unit_cache", "spiritlm.data.corpus.cli", "spiritlm.lm.convert"]


def register(sub) -> None:
    p = sub.add_parser("data", help="build and inspect corpora")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    for name in DATA_MODULES:
        importlib.import_module(name).register(dsub)
