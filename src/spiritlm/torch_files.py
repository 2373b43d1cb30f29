"""Reading PyTorch `.pt` / `.bin` files safely: plain tensors only, and a clear error for anything else.

Every file is read with `torch.load(weights_only=True)`, which refuses pickled Python objects (they can
run code). A refused or broken file raises `CheckpointError` saying which file, what it was expected to
hold, and why it is refused::

    .../L11_quantizer_500.pt (the HuBERT quantizer) is refused: it holds a pickled Python object
    (argparse.Namespace), not plain tensors, and only plain tensors are loaded (torch.load weights_only=True)
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import re
from pathlib import Path

from .errors import CheckpointError

logger = logging.getLogger(__name__)
_GLOBAL_RE = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def torch_file_error(path: str | os.PathLike, what: str, error: BaseException, hint: str = "") -> CheckpointError:
    """The `CheckpointError` for a file `torch.load(weights_only=True)` could not read."""
    found = _GLOBAL_RE.search(str(error))
    if found:
        return CheckpointError(f"{path} ({what}) is refused: it holds a pickled Python object ({found.group(1)}), "
                               "not plain tensors, and only plain tensors are loaded (torch.load weights_only=True); "
                               + (hint or "re-save it as a dict of tensors, numbers and strings"))
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or ["no detail"]
    detail = next((line for line in lines if "Unsupported" in line), lines[0])[:160]
    return CheckpointError(f"{path} ({what}) is not a readable PyTorch file: corrupt or truncated "
                           f"({type(error).__name__}: {detail})")


def load_torch_file(path: str | os.PathLike, what: str, allow_pickle: bool = False, hint: str = ""):
    """`torch.load(path, weights_only=True)` on the CPU; `allow_pickle=True` falls back to a full unpickle
    (only for files you trust). Missing file -> FileNotFoundError; unreadable -> CheckpointError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if allow_pickle and _GLOBAL_RE.search(str(e)):
            logger.warning("loading %s with weights_only=False (pickled objects allowed by the caller)", path)
            return torch.load(path, map_location="cpu", weights_only=False)
        raise torch_file_error(path, what, e, hint) from e
    except (RuntimeError, EOFError, IndexError, KeyError, ValueError, OSError, AttributeError) as e:
        raise torch_file_error(path, what, e) from e


@contextlib.contextmanager
def readable_weights(path: str | os.PathLike, what: str):
    """Around a `transformers` `from_pretrained`: a refused pickle or a corrupt weights file in `path` becomes
    a `CheckpointError` naming the file (transformers reads `.bin` files with weights_only=True too)."""
    try:
        yield
    except pickle.UnpicklingError as e:
        raise torch_file_error(_weights_file(Path(path)), what, e) from e
    except (EOFError, OSError) as e:
        raise torch_file_error(_weights_file(Path(path)), what, e) from e
    except Exception as e:
        if type(e).__name__ != "SafetensorError":
            raise
        raise torch_file_error(_weights_file(Path(path)), what, e) from e


def _weights_file(folder: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    return folder


def cast_safetensors(src: str | os.PathLike, dst: str | os.PathLike, dtype, only=None) -> None:
    """Rewrite a safetensors file with its floating-point tensors (those of dtype `only`, if given) in `dtype`;
    `dst` may be `src`."""
    from safetensors.torch import load_file, save_file

    weights = load_file(str(src))
    save_file({k: v.to(dtype) if v.is_floating_point() and (only is None or v.dtype == only) else v
               for k, v in weights.items()}, str(dst), metadata={"format": "pt"})
