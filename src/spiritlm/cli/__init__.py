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

from ..errors import SpiritLMError

BAD_INPUT = (SpiritLMError, ValueError, OSError)  # typed errors, plain ValueError (older modules), paths
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


class _Parser(argparse.ArgumentParser):
    """A usage error is one line naming the problem (and exit code 2), like every other bad input."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def one_line(error: BaseException) -> str:
    """An error as one line: OSError as 'reason: path', newlines folded, at most 600 characters."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.strerror}: {error.filename}"
    else:
        text = str(error) or type(error).__name__
    text = " ".join(text.split())
    return text if len(text) <= 600 else text[:597] + "..."


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spiritlm", description="Spirit LM: interleaved speech and text LM toolkit")
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
    except BAD_INPUT as e:  # bad input: one clear line, no traceback (-v shows it); other errors are bugs
        if args.verbose:
            logging.getLogger(__name__).exception("bad input")
        print(f"spiritlm {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spiritlm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
