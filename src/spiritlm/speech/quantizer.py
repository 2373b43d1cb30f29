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

One door each way: `load(path)` reads any of the three files (Meta's linear `.pt`, a k-means `.pt`, our
k-means folder); `save(path, format=)` writes "official" (both kinds; k-means as an exact linear
quantizer, see `kmeans_as_linear`) or "ours" (k-means).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..checkpoints import check_save_format, resolve_speech_part
from ..torch_files import load_torch_file

logger = logging.getLogger(__name__)

_ROLL_CAP = 10000  # the official loop's iteration cap
KMEANS_MODEL_TYPE = "spiritlm-kmeans"
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default, which the official quantizer uses
BLANK_SCORE = -1e9


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
    def _from_checkpoint(cls, ckpt, path: Path, compat: bool = False) -> LinearQuantizer:
        """The official `L11_quantizer_500.pt` contents ({model_cfg, model_weight}) read from `path`."""
        if not isinstance(ckpt, Mapping) or "model_cfg" not in ckpt or "model_weight" not in ckpt:
            raise ValueError(f"{path}: not a quantizer: expected the official linear quantizer {{model_cfg, "
                             "model_weight}, a k-means file {cluster_centers, n_clusters} or our k-means folder")
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

    def save(self, path: str | Path, format: str = "official") -> Path:
        """The official file (`hubert_25hz/L11_quantizer_500.pt`), the only format of a linear quantizer."""
        check_save_format(format, "a linear quantizer", ("official",))
        return _save_torch(self.to_official(), path)

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
    def _from_checkpoint(cls, ckpt, path: Path) -> KmeansQuantizer:
        """A k-means `.pt` file's contents ({cluster_centers [K, D], n_clusters}) read from `path`."""
        centers = torch.as_tensor(ckpt["cluster_centers"])
        if "n_clusters" not in ckpt or centers.shape[0] != int(ckpt["n_clusters"]):
            raise ValueError(f"{path}: n_clusters={ckpt.get('n_clusters')} but {centers.shape[0]} centers")
        return cls(centers)

    @classmethod
    def _from_folder(cls, directory: Path) -> KmeansQuantizer:
        """Our folder: config.json (model_type "spiritlm-kmeans") + model.safetensors {centroids}."""
        from safetensors.torch import load_file

        cfg_path = directory / "config.json"
        if not cfg_path.is_file():
            raise FileNotFoundError(f"no config.json in {directory} (expected a k-means folder written by save)")
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("model_type") != KMEANS_MODEL_TYPE:
            raise ValueError(f"{directory} is not a spiritlm k-means model (model_type={cfg.get('model_type')!r})")
        return cls(load_file(str(directory / "model.safetensors"))["centroids"])

    def save(self, path: str | Path, format: str = "ours", **meta) -> Path:
        """"ours": a folder (model.safetensors + config.json, `meta` added to the config); "official": the
        file Meta's tokenizer loads, a linear quantizer whose argmax is exactly the nearest centroid."""
        from safetensors.torch import save_file

        check_save_format(format, "a k-means quantizer")
        if format == "official":
            return _save_torch(kmeans_as_linear(self.centroids), path)
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"centroids": self.centroids.contiguous()}, str(directory / "model.safetensors"))
        cfg = {"model_type": KMEANS_MODEL_TYPE, "n_clusters": self.n_units, "dim": int(self.centroids.shape[1])}
        (directory / "config.json").write_text(json.dumps(cfg | meta, indent=2))
        return directory


def kmeans_as_linear(centroids: torch.Tensor) -> dict:
    """An official linear-quantizer checkpoint whose argmax is the nearest centroid.

    Nearest centroid is `argmax_k 2 c_k.x - |c_k|^2`, a linear function of x; LeakyReLU (slope s) is undone
    exactly by `x = (f(x) - f(-x)) / (1 + s)`. So layer 1 computes `[x, -x]`, layer 2 maps it to `[x, -x]`
    again, layer 3 to the centroid scores, and the blank class gets a score no frame reaches. The official
    widths `dim - mid//4`, `dim - mid//2` with `mid = upstream_dim - (V + 1)` give 2·dim and 3·dim for
    `upstream_dim = V + 1 - 4·dim` (the extra dim rows of layer 2 are zero).
    """
    c = centroids.double()  # [K, D]
    k, d = c.shape
    eye = torch.eye(d, dtype=torch.float64)
    up = k + 1 - 4 * d
    w0 = torch.cat([eye, -eye])  # [2D, D]
    w2 = torch.zeros(3 * d, 2 * d, dtype=torch.float64)
    w2[:d, :d], w2[:d, d:], w2[d:2 * d, :d], w2[d:2 * d, d:] = eye, -eye, -eye, eye
    w2 /= 1 + LEAKY_SLOPE
    w4 = torch.zeros(k + 1, 3 * d, dtype=torch.float64)
    w4[:k, :d], w4[:k, d:2 * d] = 2 * c, -2 * c
    w4 /= 1 + LEAKY_SLOPE
    b4 = torch.cat([-(c ** 2).sum(1), torch.tensor([BLANK_SCORE], dtype=torch.float64)])
    state = {"0.weight": w0, "0.bias": torch.zeros(2 * d), "2.weight": w2, "2.bias": torch.zeros(3 * d),
             "4.weight": w4, "4.bias": b4}
    return {"model_cfg": {"vocab_size": k, "dim": d, "upstream_dim": up},
            "model_weight": {n: t.float().contiguous() for n, t in state.items()}}


def _save_torch(obj: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def load(source: str | Path, compat: bool = False) -> LinearQuantizer | KmeansQuantizer:
    """The one door to a quantizer, by path or by name under $SPIRITLM_CHECKPOINTS_DIR/speech_tokenizer/:
    Meta's linear quantizer `.pt` (`compat=True`: the official blank fill), a k-means `.pt`
    {cluster_centers, n_clusters}, or our k-means folder."""
    path = resolve_speech_part(source, "hubert_25hz/L11_quantizer_500.pt")
    if path.is_dir():
        return KmeansQuantizer._from_folder(path)
    ckpt = load_torch_file(path, "the quantizer")
    if isinstance(ckpt, Mapping) and "cluster_centers" in ckpt:
        return KmeansQuantizer._from_checkpoint(ckpt, path)
    return LinearQuantizer._from_checkpoint(ckpt, path, compat=compat)
