"""Resynthesis: how much of what was said survives speech tokenizer -> vocoder.

Each held-out utterance is encoded to units (HuBERT, plus pitch and style for Expressive), decoded
back to a waveform by the unit vocoder, and transcribed by Whisper. The character error rate of
that transcript against the utterance's text measures the whole speech path of the LM without the
LM: no LM output can be more intelligible than its resynthesis. With `reference=True` Whisper also
transcribes the original audio, which gives the floor the referee itself reaches on that data::

    wav ──tokenizer──▶ SpeechUnits ──vocoder──▶ wav' ──Whisper──▶ text' ── CER vs text

Paper reference: [P] T9 reports resynthesis WER on Expresso (Base 23.4, Expressive 23.2 vs 16.2
for the original audio); issue 7 targets CER <= 10% for our mini tokenizers on the synthetic corpus.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from .asr_whisper import Transcriber, WhisperTranscriber
from .common import (
    BenchResult,
    config_records,
    preset_of,
    progress,
    record_audio,
    start_benchmark,
)
from .metrics import error_rate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResynthesisConfig:
    model: str = ""  # LM checkpoint whose speech tokenizer and vocoder are evaluated
    manifest: str = ""
    split: str = "test"
    engines: str = ""  # comma-separated TTS engines to keep ("" = all)
    limit: int | None = 100
    speaker_id: int | None = None  # vocoder speaker (None: the vocoder's default)
    whisper: str = "tiny.en"
    reference: bool = True  # also transcribe the original audio (the referee's own floor)
    progress: bool = True

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> ResynthesisConfig:
        return preset_of(cls, PRESETS, name, overrides)


PRESETS = {"default": ResynthesisConfig(), "tiny": ResynthesisConfig(limit=2, reference=False, progress=False)}


def resynthesize(lm, wav: np.ndarray, speaker_id: int | None = None) -> np.ndarray:
    """Waveform -> units -> waveform through the model's speech encoder and vocoder."""
    units = lm.speech_encoder.encode_units(wav)
    return np.asarray(lm.vocoder.synthesize(units, speaker_id=speaker_id), dtype=np.float32)


def evaluate(config: ResynthesisConfig, transcriber: Transcriber | None = None, lm=None) -> BenchResult:
    lm, timer = start_benchmark(config, lm)
    asr = transcriber or WhisperTranscriber(config.whisper)
    records = config_records(config)
    items = []
    for rec in progress(records, desc="resynthesis", enabled=config.progress):
        wav = record_audio(config.manifest, rec)
        out = resynthesize(lm, wav, config.speaker_id)
        row = {"id": rec.id, "text": rec.text, "transcript": asr.transcribe(out),
               "seconds_in": round(len(wav) / 16000, 3), "seconds_out": round(len(out) / 16000, 3)}
        if config.reference:
            row["original_transcript"] = asr.transcribe(wav)
        items.append(row)
    refs = [r["text"] for r in items]
    metrics = {"cer": error_rate(refs, [r["transcript"] for r in items], "char").rate,
               "wer": error_rate(refs, [r["transcript"] for r in items], "word").rate}
    if config.reference:
        metrics["original_cer"] = error_rate(refs, [r["original_transcript"] for r in items], "char").rate
        metrics["original_wer"] = error_rate(refs, [r["original_transcript"] for r in items], "word").rate
    logger.info("resynthesis on %d utterances: CER %.4f", len(items), metrics["cer"])
    return BenchResult("resynthesis", metrics, len(items), asdict(config), items, timer.seconds)


def run(config: ResynthesisConfig) -> dict:
    return evaluate(config).to_dict()
