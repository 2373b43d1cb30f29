"""Unit quality as in the HuBERT paper: phone purity, cluster purity and PNMI.

Given frame-aligned phone labels y and units z over a corpus, with the joint distribution
p(y, z) estimated by counting frames:

* phone purity   = E_z[max_y p(y | z)]  (how pure each unit is; the paper's main number)
* cluster purity = E_y[max_z p(z | y)]  (how concentrated each phone is on one unit)
* PNMI           = I(y; z) / H(y)       (how much of the phone's uncertainty the unit removes)

Worked example: units [0, 0, 1, 1] for phones [a, a, b, a] -> p(a|0)=1, p(a|1)=p(b|1)=1/2, so phone
purity = (2/4)(1) + (2/4)(1/2) = 0.75; cluster purity = (3/4)(2/3) + (1/4)(1) = 0.75.

`evaluate_manifest` labels each frame with the phone covering its centre (the corpus manifest's
phoneme timings) and compares encoders (e.g. our small HuBERT vs an MFCC k-means baseline).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

POCKETSPHINX_TESTDATA = "/usr/share/pocketsphinx/test/data"  # the Debian/Ubuntu package pocketsphinx-testdata


@dataclass(frozen=True)
class UnitQuality:
    phone_purity: float
    cluster_purity: float
    pnmi: float
    n_frames: int
    n_units_used: int
    n_phones: int

    def as_row(self, name: str) -> str:
        return (f"{name:<24} phone purity {self.phone_purity:.3f}  cluster purity {self.cluster_purity:.3f}  "
                f"PNMI {self.pnmi:.3f}  ({self.n_frames} frames, {self.n_units_used} units, {self.n_phones} phones)")


def joint_counts(units: Sequence[int], labels: Sequence[str]) -> tuple[np.ndarray, list[str], list[int]]:
    """Counts [n_phones, n_units] over frames whose label is not None."""
    pairs = [(lab, int(u)) for u, lab in zip(units, labels) if lab is not None]
    if len(units) != len(labels):
        raise ValueError(f"{len(units)} units but {len(labels)} frame labels")
    if not pairs:
        raise ValueError("no labelled frames to score")
    phones = sorted({p for p, _ in pairs})
    ids = sorted({u for _, u in pairs})
    pi, ui = {p: i for i, p in enumerate(phones)}, {u: i for i, u in enumerate(ids)}
    counts = np.zeros((len(phones), len(ids)), dtype=np.int64)
    for p, u in pairs:
        counts[pi[p], ui[u]] += 1
    return counts, phones, ids


def unit_quality(units: Sequence[int], labels: Sequence[str | None]) -> UnitQuality:
    """Scores of one stream of frame units against frame labels (None = unlabelled, skipped)."""
    counts, phones, ids = joint_counts(units, labels)
    pxy = counts / counts.sum()  # [Y, Z]
    py, pz = pxy.sum(1), pxy.sum(0)
    phone_purity = float(pxy.max(0).sum())  # sum_z p(z) max_y p(y|z) = sum_z max_y p(y, z)
    cluster_purity = float(pxy.max(1).sum())
    nz = pxy > 0
    mi = float((pxy[nz] * np.log(pxy[nz] / (py[:, None] * pz[None])[nz])).sum())
    hy = float(-(py[py > 0] * np.log(py[py > 0])).sum())
    pnmi = mi / hy if hy > 0 else 0.0
    return UnitQuality(phone_purity, cluster_purity, pnmi, int(counts.sum()), len(ids), len(phones))


def chance_quality(units: Sequence[int], labels: Sequence[str | None], draws: int = 10, seed: int = 0) -> UnitQuality:
    """Mean scores of the same units shuffled over the frames (`draws` permutations): the floor under the
    plug-in estimates. With few frames per unit they are biased upward (on 855 frames and ~150 units, shuffled
    units still score PNMI ~0.4), so a small sample's scores are read against this floor."""
    rng = np.random.default_rng(seed)
    units = np.asarray(units)
    qs = [unit_quality(rng.permutation(units).tolist(), labels) for _ in range(draws)]
    return UnitQuality(float(np.mean([q.phone_purity for q in qs])), float(np.mean([q.cluster_purity for q in qs])),
                       float(np.mean([q.pnmi for q in qs])), qs[0].n_frames, qs[0].n_units_used, qs[0].n_phones)


def evaluate_manifest(manifest: str | os.PathLike, encode: Callable[[np.ndarray], np.ndarray], hop: int,
                      split: str | None = "test", silence: str | None = None, max_files: int | None = None,
                      sample_rate: int = 16000, speakers: Callable[[str], bool] | None = None,
                      inventory: bool = False) -> UnitQuality:
    """Units of every file (`encode(wav) -> [frames]`) scored against the manifest's phone timings.

    `speakers`: keep only the files whose speaker it accepts. `inventory`: label frames with the shared
    40-phone inventory (`speech.phones`, what the phone encoder is trained on) instead of each engine's
    own phone labels."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..speech.audio_list import frame_labels, read_manifest_entries

    entries = [e for e in read_manifest_entries(manifest, split) if e.phonemes
               and (speakers is None or speakers(str(e.record.get("speaker", ""))))][:max_files]
    if not entries:
        raise ValueError(f"{manifest} has no entries with phoneme timings" + (f" in split {split!r}" if split else "")
                         + (" for these speakers" if speakers is not None else ""))
    all_units: list[int] = []
    all_labels: list[str | None] = []
    for e in tqdm(entries, desc="unit quality", unit="file"):
        units = np.asarray(encode(load_audio(e.path, target_sr=sample_rate))).reshape(-1)
        all_units += units.tolist()
        phonemes = e.phonemes
        if inventory:
            from ..speech.phones import segments

            phonemes = segments(str(e.record.get("engine", "")), phonemes)
        all_labels += frame_labels(phonemes, len(units), hop, sample_rate, silence)
    return unit_quality(all_units, all_labels)


def held_out_speakers(manifest: str | os.PathLike) -> tuple[str, ...]:
    """The voices a corpus kept out of training (its build.json), () if it names none."""
    import json
    from pathlib import Path

    build = Path(manifest).parent / "build.json"
    if not build.is_file():
        return ()
    return tuple(json.loads(build.read_text()).get("config", {}).get("held_out_speakers", ()))


def kmeans_encoder(kmeans_dir: str | os.PathLike) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """(wav -> units, hop) for a k-means folder, on the features it was trained on."""
    import json
    from pathlib import Path

    from ..speech import quantizer
    from ..training.kmeans import feature_source

    meta = json.loads((Path(kmeans_dir) / "config.json").read_text())
    feats, hop = feature_source(meta)
    km = quantizer.load(kmeans_dir)
    return (lambda wav: km(feats(wav)[None])[0].numpy()), hop


@dataclass(frozen=True)
class UnitQualityConfig:
    manifest: str  # "" scores no manifest (real speech only)
    kmeans: tuple[str, ...]  # k-means folders to compare (MFCC baseline, HuBERT layer, ...)
    split: str | None = "test"
    max_files: int | None = None
    real_speech: bool = False  # also score real recordings (pocketsphinx-testdata, `eval.real_speech`)
    real_speech_folder: str = POCKETSPHINX_TESTDATA
    # also score the voices held out of training and the seen ones apart ("<folder> held-out" / "seen"),
    # at most this many files each, labelled with the shared phone inventory (0: no such groups)
    by_voice: int = 0


def run(config: UnitQualityConfig) -> dict[str, UnitQuality]:
    """Scores of each k-means encoder on the manifest, keyed by folder; with `real_speech`, also its scores
    on real speech keyed "<folder> real-speech/<part>" (part: all, no-silence, chance, librivox, cards)."""
    if not config.manifest and not config.real_speech:
        raise ValueError("nothing to score: give a manifest, or real_speech=True")
    out = {}
    for kdir in config.kmeans:
        encode, hop = kmeans_encoder(kdir)
        name = os.path.basename(os.path.normpath(kdir))
        if config.manifest:
            out[kdir] = evaluate_manifest(config.manifest, encode, hop, config.split, max_files=config.max_files)
            logger.info(out[kdir].as_row(name))
            if config.by_voice:
                held = set(held_out_speakers(config.manifest))
                if not held:
                    raise ValueError(f"{config.manifest}: its build.json names no held-out voices (by_voice needs "
                                     "them)")
                for group, keep in (("held-out", held.__contains__), ("seen", lambda s, h=held: s not in h)):
                    out[f"{kdir} {group}"] = evaluate_manifest(config.manifest, encode, hop, config.split,
                                                               max_files=config.by_voice, speakers=keep,
                                                               inventory=True)
                    logger.info(out[f"{kdir} {group}"].as_row(f"{name} {group}"))
        if config.real_speech:
            from .real_speech import real_speech_quality

            for part, q in real_speech_quality(encode, hop, config.real_speech_folder).items():
                out[f"{kdir} real-speech/{part}"] = q
                logger.info(q.as_row(f"{name} real/{part}"))
    return out
