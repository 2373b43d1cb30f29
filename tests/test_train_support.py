"""Shared helpers of the LM-training tests (no tests here): a synthetic aligned corpus and a
deterministic stand-in speech encoder, so that no trained speech tokenizer is needed."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from spiritlm.audio import write_audio
from spiritlm.lm.text_tokenizer import TextTokenizer
from spiritlm.lm.tiny import tiny_corpus, train_sentencepiece
from spiritlm.units import SpeechUnits
from spiritlm.vocab import TokenLayout

SR = 16000


class SpectralPeakEncoder:
    """Stand-in SpeechEncoder: a unit is the strongest FFT bin of a 40 ms frame (so units follow words)."""

    def __init__(self, expressive: bool = False, n_units: int = 60):
        self.is_expressive, self.n_units = expressive, n_units

    def encode_units(self, wav: np.ndarray) -> SpeechUnits:
        n = len(wav) // 640
        frames = wav[:n * 640].reshape(n, 640)  # [T, 640]
        hubert = np.abs(np.fft.rfft(frames, axis=1)).argmax(axis=1) % self.n_units
        if not self.is_expressive:
            return SpeechUnits(hubert)
        m = max(1, len(wav) // 1280)
        rms = np.sqrt(np.mean(wav[:m * 1280].reshape(m, -1) ** 2, axis=1)) if len(wav) >= 1280 else np.zeros(1)
        pitch = (rms * 400).astype(np.int64) % 64
        style = np.full(max(1, -(-len(wav) // SR)), int(hubert.sum()) % 100)
        return SpeechUnits(hubert, pitch, style)


def word_tone(word: str, seconds: float) -> np.ndarray:
    freq = 150 + (zlib.crc32(word.encode()) % 60) * 25
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_corpus(root: Path, n_utts: int = 12, splits=("train", "valid")) -> Path:
    """Tone 'speech' for sentences of the tiny corpus, with exact word times; returns the manifest."""
    root.mkdir(parents=True, exist_ok=True)
    sentences = tiny_corpus()
    lines = []
    for i in range(n_utts):
        text = sentences[i % len(sentences)]
        pieces, words, t = [np.zeros(int(0.1 * SR), np.float32)], [], 0.1
        for w in text.split():
            dur = 0.08 + 0.03 * len(w)
            pieces += [word_tone(w.lower().strip(".,!?;:"), dur), np.zeros(int(0.04 * SR), np.float32)]
            words.append({"word": w, "start": round(t, 4), "end": round(t + dur, 4)})
            t += dur + 0.04
        write_audio(root / f"u{i:03d}.wav", np.concatenate(pieces))
        split = splits[1] if (len(splits) > 1 and i % 4 == 3) else splits[0]
        lines.append({"id": f"u{i:03d}", "audio": f"u{i:03d}.wav", "text": text, "words": words, "speaker": "tone",
                      "split": split, "duration": round(t, 3)})
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return manifest


def write_text_tokenizer(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "tokenizer.model").write_bytes(train_sentencepiece())
    return root


def text_tokenizer(root: Path, expressive: bool = False) -> TextTokenizer:
    path = write_text_tokenizer(root)
    n = TextTokenizer.from_dir(path).text_vocab_size
    return TextTokenizer.from_dir(path, TokenLayout.expressive(n) if expressive else TokenLayout.base(n))
