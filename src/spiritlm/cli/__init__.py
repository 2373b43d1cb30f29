"""The `spiritlm` console script: one parser, one module per subcommand group.

Each module in `COMMAND_MODULES` has `register(subparsers)`, which adds its parser(s) and sets
`func` to a callable taking the parsed args and returning an exit code. Modules import heavy
libraries inside their handlers, so `spiritlm --help` stays fast. No model logic lives here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES = [
    "spiritlm.cli.lm_commands",
    "spiritlm.cli.data",
    "spiritlm.cli.train",
    "spiritlm.cli.vocoder",
    "spiritlm.cli.encode",
    "spiritlm.cli.eval",
    "spiritlm.cli.recipe",
    "spiritlm.cli.export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spiritlm", description="Spirit LM: interleaved speech and text LM toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as e:  # bad input: one clear line, no traceback
        print(f"spiritlm {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
