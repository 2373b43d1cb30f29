"""Quantizers: dense HuBERT features [B, T, D] -> unit ids [B, T].

Two kinds:

* `LinearQuantizer` (the official `L11_quantizer_500.pt`): a 3-layer MLP trained with a CTC-style
  loss, so it has V + 1 classes, the last one a *blank*. A blank frame takes the unit of the
  nearest non-blank frame on its left; blanks at the start take the first non-blank unit::

      argmax  [B, B, 5, B, 7, 7, B, B, B, 9]      (B = blank = V)
      fixed   [5, 5, 5, 5, 7, 7, 7, 7, 7, 9]      (default)
      compat  [9, 9, 5, 5, 7, 7, 7, 7, 7, 9]      (official: torch.roll wraps around from the end)

* `KmeansQuantizer`: the nearest of K centroids by squared L2 distance (no sklearn at inference);
  the form our own k-means training writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..torch_files import load_torch_file

logger = logging.getLogger(__name__)

_ROLL_CAP = 10000  # the official loop's iteration cap


def _fill_row(row: torch.Tensor, blank: int) -> torch.Tensor:
    """Left fill of one sequence; leading blanks take the first valid unit."""
    valid = row != blank
    if not bool(valid.any()):
        return row
    idx = torch.arange(len(row), device=row.device)
    last_valid = torch.where(valid, idx, torch.full_like(idx, -1)).cummax(0).values  # [T]
    first = int(idx[valid][0])
    last_valid = torch.where(last_valid < 0, torch.full_like(idx, first), last_valid)
    return row[last_valid]


def _fill_row_compat(row: torch.Tensor, blank: int) -> torch.Tensor:
    """The official post-processing, exactly: repeated wrap-around roll, at most 10,000 rounds."""
    code = row.clone()
    for _ in range(_ROLL_CAP):
        is_blank = code == blank
        if not bool(is_blank.any()):
            break
        code[is_blank] = torch.roll(code, 1)[is_blank]
    return code


def fill_blanks(codes: torch.Tensor, blank: int, lengths: torch.Tensor | None = None,
                compat: bool = False) -> torch.Tensor:
    """Replace blank units per sequence (`codes` [B, T]; only the first `lengths[b]` frames count).

    A sequence that is blank everywhere keeps the blank unit (there is nothing to copy), with a warning.
    `compat=True` is the official fill: `torch.roll` on the flattened batch, so the frames of all rows
    form one sequence: leading blanks of a row take the last unit of the row before (row 0 wraps
    around from the end of the last row).
    """
    out = codes.clone()
    B, T = codes.shape
    ns = [T if lengths is None else int(lengths[b]) for b in range(B)]
    for b, n in enumerate(ns):
        if n and bool((codes[b, :n] == blank).all()):
            logger.warning("every frame of a sequence of %d frames is blank; keeping unit %d", n, blank)
    if compat:
        flat = _fill_row_compat(torch.cat([codes[b, :n] for b, n in enumerate(ns)]), blank)  # [sum(ns)]
        for b, part in enumerate(torch.split(flat, ns)):
            out[b, :ns[b]] = part
        return out
    for b, n in enumerate(ns):
        out[b, :n] = _fill_row(codes[b, :n], blank)
    return out


@dataclass(frozen=True)
class LinearQuantizerConfig:
    """The official `model_cfg`: V units (+1 blank), input `dim`, and `upstream_dim` that sets the MLP widths."""

    vocab_size: int = 500
    dim: int = 768
    upstream_dim: int = 768

    def widths(self) -> tuple[int, int, int, int]:
        mid = self.upstream_dim - (self.vocab_size + 1)
        return self.dim, self.dim - mid // 4, self.dim - mid // 2, self.vocab_size + 1


class LinearQuantizer(nn.Module):
    """MLP Linear -> LeakyReLU -> Linear -> LeakyReLU -> Linear(V + 1); argmax, then blank fill."""

    def __init__(self, config: LinearQuantizerConfig, compat: bool = False) -> None:
        super().__init__()
        d0, d1, d2, d3 = config.widths()
        if min(d1, d2) <= 0:
            raise ValueError(f"linear quantizer widths {config.widths()} are not positive for {config}")
        self.config = config
        self.compat = compat
        # Keys 0.*, 2.*, 4.* as in the official nn.Sequential.
        self.encoder = nn.Sequential(nn.Linear(d0, d1), nn.LeakyReLU(), nn.Linear(d1, d2), nn.LeakyReLU(),
                                     nn.Linear(d2, d3))
        self.eval()

    @property
    def n_units(self) -> int:
        """Ids the quantizer can emit: V real units + the blank id V (only for an all-blank chunk)."""
        return self.config.vocab_size + 1

    @property
    def blank(self) -> int:
        return self.config.vocab_size

    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        return self.encoder(feats)  # [B, T, V + 1]

    @torch.inference_mode()
    def forward(self, feats: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """feats [B, T, D] -> codes [B, T] int64."""
        codes = torch.log_softmax(self.logits(feats.float()), -1).argmax(-1)  # [B, T], as the official
        return fill_blanks(codes, self.blank, lengths, compat=self.compat)

    @classmethod
    def from_official(cls, path: str | Path, compat: bool = False) -> LinearQuantizer:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"quantizer checkpoint not found: {path}")
        ckpt = load_torch_file(path, "the HuBERT quantizer")
        if not isinstance(ckpt, Mapping) or "model_cfg" not in ckpt or "model_weight" not in ckpt:
            raise ValueError(f"{path}: not an official linear quantizer (expected keys model_cfg, model_weight)")
        cfg = ckpt["model_cfg"]
        missing = {"vocab_size", "dim", "upstream_dim"} - set(cfg)
        if missing:
            raise ValueError(f"{path}: model_cfg lacks {sorted(missing)}")
        model = cls(LinearQuantizerConfig(int(cfg["vocab_size"]), int(cfg["dim"]), int(cfg["upstream_dim"])), compat)
        state = dict(ckpt["model_weight"])
        unknown = set(state) - set(model.encoder.state_dict())
        if unknown:
            raise ValueError(f"{path}: unknown quantizer keys {sorted(unknown)}; valid: 0.*, 2.*, 4.*")
        model.encoder.load_state_dict(state)
        return model

    def to_official(self) -> dict:
        return {"model_cfg": asdict(self.config),
                "model_weight": {k: v.detach().clone() for k, v in self.encoder.state_dict().items()}}


class KmeansQuantizer(nn.Module):
    """Nearest centroid by squared L2: ||x||^2 - 2 x.c + ||c||^2 (the first index wins ties)."""

    def __init__(self, centroids: torch.Tensor) -> None:
        super().__init__()
        if centroids.ndim != 2 or centroids.shape[0] < 1:
            raise ValueError(f"centroids must be [K, D] with K >= 1, got shape {tuple(centroids.shape)}")
        self.register_buffer("centroids", centroids.float().contiguous())  # [K, D]
        self.register_buffer("c_norm", (self.centroids ** 2).sum(1))  # [K]
        self.eval()

    @property
    def n_units(self) -> int:
        return int(self.centroids.shape[0])

    def distances(self, feats: torch.Tensor) -> torch.Tensor:
        x = feats.float()
        return (x ** 2).sum(-1, keepdim=True) - 2 * x @ self.centroids.T + self.c_norm  # [..., K]

    @torch.inference_mode()
    def forward(self, feats: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if feats.shape[-1] != self.centroids.shape[1]:
            raise ValueError(f"features have dim {feats.shape[-1]}, centroids {self.centroids.shape[1]}")
        return self.distances(feats).argmin(-1)  # [B, T]

    @classmethod
    def from_official(cls, path: str | Path) -> KmeansQuantizer:
        """The official `KmeansModel` file: {cluster_centers [K, D], n_clusters}."""
        ckpt = load_torch_file(path, "the k-means quantizer")
        if not isinstance(ckpt, Mapping) or "cluster_centers" not in ckpt or "n_clusters" not in ckpt:
            raise ValueError(f"{path}: not a k-means checkpoint (expected cluster_centers, n_clusters)")
        centers = torch.as_tensor(ckpt["cluster_centers"])
        if centers.shape[0] != int(ckpt["n_clusters"]):
            raise ValueError(f"{path}: n_clusters={ckpt['n_clusters']} but {centers.shape[0]} centers")
        return cls(centers)

    def save_pretrained(self, directory: str | Path, **meta) -> Path:
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"centroids": self.centroids.contiguous()}, str(directory / "model.safetensors"))
        cfg = {"model_type": "spiritlm-kmeans", "n_clusters": self.n_units, "dim": int(self.centroids.shape[1])}
        (directory / "config.json").write_text(json.dumps(cfg | meta, indent=2))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> KmeansQuantizer:
        from safetensors.torch import load_file

        directory = Path(directory)
        cfg = json.loads((directory / "config.json").read_text())
        if cfg.get("model_type") != "spiritlm-kmeans":
            raise ValueError(f"{directory} is not a spiritlm k-means model (model_type={cfg.get('model_type')!r})")
        return cls(load_file(str(directory / "model.safetensors"))["centroids"])


def load_quantizer(source: str | Path, compat: bool = False) -> LinearQuantizer | KmeansQuantizer:
    """A directory (our k-means), an official linear quantizer `.pt`, or an official k-means `.pt`."""
    source = Path(source)
    if source.is_dir():
        return KmeansQuantizer.from_pretrained(source)
    if not source.is_file():
        raise FileNotFoundError(f"quantizer not found: {source}")
    ckpt = load_torch_file(source, "the quantizer")
    if isinstance(ckpt, Mapping) and "cluster_centers" in ckpt:
        return KmeansQuantizer.from_official(source)
    return LinearQuantizer.from_official(source, compat=compat)
