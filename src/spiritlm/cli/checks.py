"""Checks the CLI makes before any work starts: output paths and counts.

Outputs are checked before a model is loaded, so a bad `-o` fails in a second instead of after the
work, and every file is written to a temporary name and renamed at the end (`audio.write_audio`), so
a failure leaves no partial file behind.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import OutputPathError


def _parent_ok(path: Path, flag: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputPathError(f"{flag} {path}: {parent} is a file, so the folder cannot be created")
            return


def check_output_file(path: str | Path, flag: str, overwrite: bool = True) -> Path:
    """An output file path: not a folder, inside a folder that is (or can be) made, new unless `overwrite`."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{flag} {path} is a folder; give a file name (e.g. {path / 'out.wav'})")
    if path.exists() and not overwrite:
        raise OutputPathError(f"{flag} {path} already exists; give --overwrite to replace it")
    _parent_ok(path, flag)
    return path


def check_output_audio(path: str | Path, flag: str, overwrite: bool = True) -> Path:
    """`check_output_file` plus a format soundfile can write, from the suffix."""
    from ..audio import writable_format

    path = check_output_file(path, flag, overwrite)
    writable_format(path)
    return path


def check_output_folder(path: str | Path, flag: str, pattern: str, overwrite: bool) -> Path:
    """An output folder: not a file; files matching `pattern` from an earlier run are kept unless `overwrite`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{flag} {path} is a file; give a folder for the outputs")
    _parent_ok(path, flag)
    if path.is_dir():
        taken = sorted(p.name for p in path.glob(pattern))
        folders = [p.name for p in path.glob(pattern) if p.is_dir()]
        if folders:
            raise OutputPathError(f"{flag} {path}: {folders[0]} is a folder where an output file goes")
        if taken and not overwrite:
            shown = ", ".join(taken[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
            raise OutputPathError(f"{flag} {path} already holds {shown} from an earlier run; give --overwrite to "
                                  "replace them, or another folder")
    return path


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value
