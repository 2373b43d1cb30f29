"""Unit cache: tokenize a corpus manifest once, so that training never runs the speech encoder.

A manifest is JSON Lines, one utterance per line (``id``, ``audio`` relative to the manifest,
``text``, ``words``, ``split``, ...). `build_unit_cache` runs a `SpeechEncoder` over the records
this process owns and writes compact arrays::

    cache/meta.json                        streams, rates, world size, chunk size, manifest
    cache/units-r000-w002-c00000.npz       rank 0 of 2, chunk 0: records 0, 2, 4, ... (chunk_size of them)
        ids              [n]      record ids
        hubert           [sum T]  int16, all utterances concatenated
        hubert_offsets   [n + 1]  utterance i is hubert[offsets[i]:offsets[i + 1]]
        pitch, style (+ offsets)  Expressive only

Frame i of a stream starts at ``i / rate`` seconds (25, 12.5 and 1 Hz), so times are implicit.
Records are dealt round-robin to ``RANK`` of ``WORLD_SIZE`` (torchrun's variables), and each chunk
file is written atomically: a killed job re-run with the same arguments skips the chunks it has and
continues. `UnitCache` reads every chunk of a folder back as raw `SpeechUnits` by record id.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..units import HUBERT_RATE, PITCH_RATE, STYLE_RATE, SpeechUnits

logger = logging.getLogger(__name__)

RATES = {"hubert": HUBERT_RATE, "pitch": PITCH_RATE, "style": STYLE_RATE}
META_FILE = "meta.json"
REQUIRED_KEYS = ("id", "audio")


def read_manifest(path: str | os.PathLike) -> list[dict]:
    """Records of a JSON Lines manifest; each needs at least `id` and `audio`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist")
    records = []
    raw = path.read_text(encoding="utf-8")
    lines = raw.splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if n == len(lines) and not raw.endswith("\n"):  # torn last line of a crashed writer
                logger.warning("%s: ignoring the incomplete last line %d", path, n)
                break
            raise ValueError(f"{path}:{n}: not JSON ({e})") from e
        missing = [k for k in REQUIRED_KEYS if k not in rec]
        if missing:
            raise ValueError(f"{path}:{n}: record lacks {', '.join(missing)} (required: {', '.join(REQUIRED_KEYS)})")
        records.append(rec)
    return records


def dist_rank_world(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    rank = int(os.environ.get("RANK", 0)) if rank is None else rank
    world = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else world_size
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is outside world size {world}")
    return rank, world


@dataclass(frozen=True)
class CacheSummary:
    """What one `build_unit_cache` call did."""

    rank: int
    world_size: int
    records: int  # records owned by this rank
    encoded: int  # records encoded in this call (the rest came from earlier runs)
    chunks: int


def _chunk_path(out: Path, rank: int, world: int, chunk: int) -> Path:
    return out / f"units-r{rank:03d}-w{world:03d}-c{chunk:05d}.npz"


def _write_meta(out: Path, meta: dict) -> None:
    path = out / META_FILE
    if path.is_file():
        old = json.loads(path.read_text())
        if old != meta:
            raise ValueError(f"{out} holds a cache made with other settings ({old}); now {meta}. "
                             "Use a new folder or the same settings")
        return
    tmp = out / f".{META_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, path)


def _pack(ids: list[str], units: list[SpeechUnits]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {"ids": np.array(ids, dtype=np.str_)}
    for stream in ("hubert", "pitch", "style"):
        values = [getattr(u, stream) for u in units]
        if any(v is None for v in values):
            continue
        lengths = np.array([0] + [len(v) for v in values], dtype=np.int64)
        arrays[stream] = np.concatenate(values).astype(np.int16) if values else np.zeros(0, np.int16)
        arrays[f"{stream}_offsets"] = np.cumsum(lengths)  # [n + 1]
    return arrays


def build_unit_cache(manifest: str | os.PathLike, out_dir: str | os.PathLike, encoder,
                     rank: int | None = None, world_size: int | None = None, chunk_size: int = 64,
                     load: Callable[[Path], np.ndarray] | None = None, progress: bool = True) -> CacheSummary:
    """Encode this rank's share of `manifest` into `out_dir` (resumable; see the module docstring)."""
    from tqdm import tqdm

    from ..audio import load_audio

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    rank, world = dist_rank_world(rank, world_size)
    manifest = Path(manifest)
    records = read_manifest(manifest)[rank::world]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = ["hubert", "pitch", "style"] if encoder.is_expressive else ["hubert"]
    _write_meta(out, {"streams": streams, "rates": {s: RATES[s] for s in streams}, "world_size": world,
                      "chunk_size": chunk_size, "manifest": manifest.name})
    load = load or load_audio
    n_chunks = -(-len(records) // chunk_size)
    encoded = 0
    bar = tqdm(total=len(records), desc=f"units rank {rank}/{world}", disable=not progress, unit="utt")
    for c in range(n_chunks):
        chunk = records[c * chunk_size:(c + 1) * chunk_size]
        path = _chunk_path(out, rank, world, c)
        if not path.is_file():
            units = [encoder.encode_units(load(manifest.parent / rec["audio"])) for rec in chunk]
            tmp = path.with_name(f".{path.stem}.tmp.npz")
            np.savez(tmp, **_pack([str(rec["id"]) for rec in chunk], units))
            os.replace(tmp, path)
            encoded += len(chunk)
        bar.update(len(chunk))
    bar.close()
    logger.info("rank %d/%d: %d records, %d encoded now, %d chunks in %s", rank, world, len(records), encoded,
                n_chunks, out)
    return CacheSummary(rank, world, len(records), encoded, n_chunks)


class UnitCache:
    """Raw units of every record in a cache folder, by record id."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_file = self.path / META_FILE
        if not meta_file.is_file():
            raise FileNotFoundError(f"{self.path} is not a unit cache: {META_FILE} is missing "
                                    "(build one with `spiritlm data units`)")
        self.meta = json.loads(meta_file.read_text())
        self.streams: list[str] = self.meta["streams"]
        self._arrays: list[dict[str, np.ndarray]] = []
        self._index: dict[str, tuple[int, int]] = {}
        for f in sorted(self.path.glob("units-r*-w*-c*.npz")):
            with np.load(f) as z:
                arrays = {k: z[k] for k in z.files}
            for i, rid in enumerate(arrays["ids"].tolist()):
                self._index[rid] = (len(self._arrays), i)
            self._arrays.append(arrays)

    @property
    def is_expressive(self) -> bool:
        return "pitch" in self.streams

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._index

    @property
    def ids(self) -> list[str]:
        return list(self._index)

    def __getitem__(self, record_id: str) -> SpeechUnits:
        if record_id not in self._index:
            raise KeyError(f"record {record_id!r} is not in the unit cache {self.path} ({len(self)} records)")
        a, i = self._index[record_id]
        arrays = self._arrays[a]

        def stream(name: str) -> np.ndarray | None:
            if name not in arrays:
                return None
            off = arrays[f"{name}_offsets"]
            return arrays[name][off[i]:off[i + 1]].astype(np.int64)

        return SpeechUnits(stream("hubert"), stream("pitch"), stream("style"))

    def frame_times(self, record_id: str, stream: str = "hubert") -> np.ndarray:
        """Start time in seconds of each frame of one stream."""
        if stream not in self.streams:
            raise ValueError(f"stream {stream!r} is not in this cache; valid: {', '.join(self.streams)}")
        return np.arange(len(getattr(self[record_id], stream))) / RATES[stream]  # [T]


# ------------------------------------------------------------------------------------- CLI


def load_encoder(spec: str, arg: str | None = None):
    """`module:callable` (called with `arg` when given) -> a SpeechEncoder."""
    import importlib

    if ":" not in spec:
        raise ValueError(f"--encoder must look like package.module:factory, got {spec!r}")
    module, name = spec.split(":", 1)
    factory = importlib.import_module(module)
    for part in name.split("."):
        factory = getattr(factory, part)
    encoder = factory(arg) if arg is not None else factory()
    if not hasattr(encoder, "encode_units") or not hasattr(encoder, "is_expressive"):
        raise ValueError(f"{spec} did not give a SpeechEncoder (needs encode_units and is_expressive)")
    return encoder


def register(sub) -> None:
    """`spiritlm data units --manifest m.jsonl --out units/ --encoder pkg.module:factory [--encoder-arg X]`."""
    p = sub.add_parser("units", help="tokenize a corpus manifest once into a unit cache (sharded by RANK/"
                                     "WORLD_SIZE, resumable)")
    p.add_argument("--manifest", required=True, help="JSON Lines manifest (id, audio, text, words, split)")
    p.add_argument("--out", required=True, help="cache folder")
    p.add_argument("--encoder", required=True, help="factory of a SpeechEncoder, as package.module:callable")
    p.add_argument("--encoder-arg", default=None, help="one argument for the factory (e.g. a checkpoint folder)")
    p.add_argument("--chunk-size", type=int, default=64, help="records per chunk file (the unit of resumption)")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    summary = build_unit_cache(args.manifest, args.out, load_encoder(args.encoder, args.encoder_arg),
                               chunk_size=args.chunk_size)
    print(f"rank {summary.rank}/{summary.world_size}: {summary.records} records ({summary.encoded} encoded now) "
          f"in {summary.chunks} chunks under {args.out}")
    return 0
