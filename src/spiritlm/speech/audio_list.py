"""Lists of audio files for encoding and training: a manifest (JSON lines) or plain paths.

A manifest line needs `audio` (absolute, or relative to the manifest's folder); `id`, `split` and
`phonemes` ([{"phone", "start", "end"}], seconds) are used when present. The corpus manifest
(`spiritlm.data.corpus.manifest`) has all of them::

    {"id": "s000042-espeak-en-us-f3", "audio": "wav/s000042/a.wav", "split": "train",
     "phonemes": [{"phone": "t", "start": 0.061, "end": 0.12}, ...], ...}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class AudioEntry:
    id: str
    path: Path
    record: dict = field(default_factory=dict, compare=False)

    @property
    def phonemes(self) -> list[tuple[str, float, float]]:
        return [(p["phone"], float(p["start"]), float(p["end"])) for p in self.record.get("phonemes", ())]


def read_manifest_entries(manifest: str | os.PathLike, split: str | None = None) -> list[AudioEntry]:
    path = Path(manifest)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or not line.endswith("\n"):
                continue  # blank, or a torn last line from a crashed writer
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not valid JSON: {e}") from e
            if "audio" not in rec:
                raise ValueError(f"{path}:{n}: a manifest line needs an 'audio' field (got {sorted(rec)[:6]})")
            if split is not None and rec.get("split", split) != split:
                continue
            audio = Path(rec["audio"])
            audio = audio if audio.is_absolute() else path.parent / audio
            out.append(AudioEntry(str(rec.get("id", audio.stem)), audio, rec))
    if not out:
        raise ValueError(f"manifest {path} has no entries" + (f" in split {split!r}" if split else ""))
    return out


def entries_from_paths(paths: list[str | os.PathLike]) -> list[AudioEntry]:
    return [AudioEntry(str(p), Path(p)) for p in paths]


def frame_labels(phonemes: list[tuple[str, float, float]], n_frames: int, hop: int, sample_rate: int = 16000,
                 silence: str | None = "sil") -> list[str | None]:
    """Phone label of each frame (at its centre); frames outside every phone get `silence`."""
    labels: list[str | None] = [silence] * n_frames
    for phone, start, end in phonemes:
        first = max(0, int(round(start * sample_rate / hop - 0.5)))
        for i in range(first, n_frames):
            centre = (i + 0.5) * hop / sample_rate
            if centre >= end:
                break
            if centre >= start:
                labels[i] = phone
    return labels
