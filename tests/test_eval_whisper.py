"""Whisper tiny.en (packaged, offline) on one real LibriVox utterance with a known transcript."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spiritlm.audio import load_audio
from spiritlm.eval.asr_whisper import WhisperConfig, WhisperTranscriber, bundled_model_dir, resolve_model_dir
from spiritlm.eval.metrics import wer

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")  # Debian pocketsphinx-testdata (Makefile)
CLIP = "sense_and_sensibility_01_austen_64kb-0880"


def _reference(utt: str) -> str:
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        if line.endswith(f"({utt})"):
            return line.split("</s>")[0].replace("<s>", "").strip()
    raise AssertionError(f"{utt} not in the transcription file")


def test_packaged_model_found_and_bad_names_rejected(tmp_path):
    assert (bundled_model_dir("tiny.en") / "model.bin").is_file()
    with pytest.raises(ValueError, match="packaged: tiny.en, base"):
        resolve_model_dir("large-v3")
    with pytest.raises(FileNotFoundError, match="model.bin is missing"):
        resolve_model_dir(str(tmp_path))
    with pytest.raises(ValueError, match="valid: tiny.en, tiny.en-beam5, base"):
        WhisperConfig.preset("medium")


def test_whisper_transcribes_real_speech():
    if not LIBRIVOX.is_dir():
        pytest.fail(f"{LIBRIVOX} is missing: install the Debian package pocketsphinx-testdata (make setup)")
    asr = WhisperTranscriber("tiny.en")
    ref = _reference(CLIP)
    assert ref == "he was not an ill disposed young man"
    hyp = asr.transcribe(load_audio(LIBRIVOX / f"{CLIP}.wav"))
    assert wer([ref], [hyp]) <= 0.25  # tiny.en: 0.127 WER over the five LibriVox clips
    assert asr.transcribe(np.zeros(800, np.float32)) == ""  # under 0.1 s: nothing to read
    with pytest.raises(ValueError, match="1-D"):
        asr.transcribe(np.zeros((2, 16000), np.float32))


def test_whisper_base_is_joined_from_its_two_packages(tmp_path):
    from spiritlm.eval.asr_whisper import assemble_base

    folder = assemble_base(tmp_path / "wb")
    sizes = sorted(p.name for p in folder.iterdir())
    assert sizes == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert (folder / "model.bin").stat().st_size == 2 * 72608766  # the two published halves
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert assemble_base(folder) == folder and (folder / "model.bin").stat().st_mtime_ns == mtime  # done once
