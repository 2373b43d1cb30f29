"""Where checkpoints live: names -> folders, in the official layout.

The official release expects one root folder (``$SPIRITLM_CHECKPOINTS_DIR``, else ``./checkpoints``)::

    <root>/spiritlm_model/spirit-lm-{base,expressive}-7b/    the LM + its text tokenizer
    <root>/speech_tokenizer/hubert_25hz/, hifigan_spiritlm_base/, ...

A name resolves to the first folder that exists: the name itself as a path (unlike the official
code, any path works, whatever its folder is called), then ``<root>/spiritlm_model/<name>``, then
the models shipped inside the package (``spiritlm/assets/models/spiritlm_model/<name>``, a root
with its own ``speech_tokenizer/`` and a ``SHA256SUMS`` manifest that is checked at load). A speech part
resolves the same way (`resolve_speech_part`): the path itself, then a name under ``<root>/speech_tokenizer/``.

`tiny_root` writes a complete checkpoints root of tiny random weights in Meta's layout (tests, the demo).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

OFFICIAL_LM_NAMES = ("spirit-lm-base-7b", "spirit-lm-expressive-7b")
ENV_ROOT = "SPIRITLM_CHECKPOINTS_DIR"


def checkpoints_root() -> Path:
    return Path(os.environ.get(ENV_ROOT) or "checkpoints")


def bundled_root() -> Path:
    """The checkpoints root shipped inside the package (our mini models), in Meta's layout."""
    return Path(str(resources.files("spiritlm").joinpath("assets/models")))


def bundled_model_names() -> list[str]:
    d = bundled_root() / "spiritlm_model"
    return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []


def lm_candidates(name: str) -> list[Path]:
    return [Path(name), checkpoints_root() / "spiritlm_model" / name, bundled_root() / "spiritlm_model" / name]


def resolve_lm_dir(name_or_path: str | os.PathLike) -> Path:
    """The folder of an LM checkpoint, or FileNotFoundError naming every place looked at."""
    if not str(name_or_path).strip():
        raise FileNotFoundError("the model name is empty: give a checkpoint folder or a name such as "
                                f"{OFFICIAL_LM_NAMES[0]}")
    candidates = lm_candidates(str(name_or_path))
    for c in candidates:
        try:
            if c.is_dir():
                return c
        except OSError:  # a name too long to be a path
            continue
    known = ", ".join(OFFICIAL_LM_NAMES + tuple(bundled_model_names()))
    looked = "; ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no checkpoint folder for {str(name_or_path)!r} (looked in: {looked}). "
                            f"Give a folder path, or a name ({known}) under ${ENV_ROOT}/spiritlm_model/")


def speech_dir(component: str, root: str | os.PathLike | None = None) -> Path:
    """`<root>/speech_tokenizer/<component>` (e.g. "hubert_25hz", "hifigan_spiritlm_base")."""
    return Path(root or checkpoints_root()) / "speech_tokenizer" / component


def resolve_speech_part(source: str | os.PathLike, example: str) -> Path:
    """A speech part's file or folder: `source` as a path, else a name under `<root>/speech_tokenizer/`
    (or `<root>/`), root = $SPIRITLM_CHECKPOINTS_DIR or ./checkpoints. `example` names a typical part."""
    path = Path(source)
    if path.exists():
        return path
    tried = [path]
    if not path.is_absolute():  # a name: look under the checkpoints root
        for cand in (speech_dir(str(source)), checkpoints_root() / str(source)):
            tried.append(cand)
            if cand.exists():
                return cand
    raise FileNotFoundError(f"no speech part {str(source)!r} (tried {', '.join(map(str, tried))}); give a path or "
                            f"a name under ${ENV_ROOT}/speech_tokenizer/, e.g. {example}")


SAVE_FORMATS = ("ours", "official")


def check_save_format(format: str, what: str, valid: tuple[str, ...] = SAVE_FORMATS) -> str:
    """`format` if `what` (e.g. "a HuBERT") can be saved in it, else ValueError naming the valid ones."""
    if format not in valid:
        raise ValueError(f"{what} saves in format {' or '.join(map(repr, valid))}, not {format!r}")
    return format


MANIFEST = "SHA256SUMS"
"""A bundle's manifest: `<sha256>  <relative path>` per file, as `sha256sum` writes it."""


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (what `sha256sum` prints)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: str | os.PathLike) -> Path:
    """Hash every file below `folder` (except the manifest) into `folder/SHA256SUMS`."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}" for p in files]
    (folder / MANIFEST).write_text("\n".join(lines) + "\n")
    return folder / MANIFEST


def verify_manifest(folder: str | os.PathLike) -> int:
    """Check `folder/SHA256SUMS`; returns the number of files checked, raises naming every bad file."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{folder} has no {MANIFEST} manifest")
    bad = []
    lines = [line for line in manifest.read_text().splitlines() if line.strip()]
    for line in lines:
        digest, _, rel = line.partition("  ")
        path = folder / rel
        if not path.is_file():
            bad.append(f"{rel} (missing)")
        elif sha256_file(path) != digest:
            bad.append(f"{rel} (sha256 differs)")
    if bad:
        raise ValueError(f"checkpoint bundle {folder} is damaged: " + ", ".join(bad))
    return len(lines)


def verify_root_of(lm_path: str | os.PathLike) -> int:
    """Check the SHA256SUMS of the checkpoints root an LM folder sits in, if that root has one.

    Returns the number of files checked (0 when there is no manifest); raises naming damaged files."""
    root = Path(lm_path).resolve().parent.parent
    return verify_manifest(root) if (root / MANIFEST).is_file() else 0
