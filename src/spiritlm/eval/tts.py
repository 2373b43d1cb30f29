"""TTS through the LM: text in, speech out, scored by Whisper CER ([P] §4.1, T5).

Each held-out sentence is given as a few-shot prompt (`fewshot.tts_inputs`; `shots=0` is the
zero-shot `[Text] sentence [Speech]`), the LM continues in speech only (modality-constrained), the
vocoder renders the generated units, and Whisper transcribes the audio. The CER of that transcript
against the sentence is the TTS error rate; it includes the vocoder's own loss (see resynthesis) and
Whisper's (on clean speech about 0). Paper: Spirit Base 10-shot CER 45.5 on LibriSpeech clean;
issue 7 targets <= 30% for the mini models.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from .asr_whisper import Transcriber, WhisperTranscriber
from .common import (
    BenchResult,
    batched,
    config_records,
    preset_of,
    progress,
    start_benchmark,
)
from .fewshot import config_shots, tts_inputs
from .metrics import error_rate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TTSConfig:
    model: str = ""
    manifest: str = ""
    split: str = "test"
    engines: str = ""  # comma-separated TTS engines to keep ("" = all)
    limit: int | None = 100
    shots: int = 3  # the paper uses 10 with a 2048-token context
    shot_split: str = "train"
    max_shot_seconds: float = 4.0
    seed: int = 0
    tokens_per_second: float = 30.0  # new-token budget per second of expected speech
    min_new_tokens_budget: int = 40
    temperature: float = 0.0  # 0: greedy
    top_p: float = 0.95
    batch_size: int = 4
    speaker_id: int | None = None
    whisper: str = "tiny.en"
    progress: bool = True

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> TTSConfig:
        return preset_of(cls, PRESETS, name, overrides)


PRESETS = {
    "default": TTSConfig(),
    "paper": TTSConfig(shots=10, temperature=0.0),
    "tiny": TTSConfig(limit=2, shots=1, batch_size=2, min_new_tokens_budget=8, tokens_per_second=2.0, progress=False),
}


def sampling_kwargs(temperature: float, top_p: float) -> dict:
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    return {"do_sample": False} if temperature == 0 else {"do_sample": True, "temperature": temperature,
                                                          "top_p": top_p}


def check_context(lm, prompts: list, modality: str, max_new_tokens: int) -> None:
    limit = getattr(lm.model.config, "max_position_embeddings", None)
    longest = max(len(lm.build_prompt(p, modality).ids) for p in prompts)
    if limit is not None and longest + max_new_tokens > limit:
        raise ValueError(f"a prompt of {longest} tokens + {max_new_tokens} new tokens exceeds the model's context "
                         f"({limit}); use fewer --shots or shorter shots")


def speech_of(lm, result, speaker_id: int | None = None) -> tuple[np.ndarray, str]:
    """All generated speech of one result as one waveform, and why it is empty when it is: the LM made
    no speech, or units the vocoder cannot render (e.g. Expressive units without any pitch token)."""
    parts = [o.units for o in result.outputs if o.content_type.value == "SPEECH" and o.units is not None]
    if not parts:
        return np.zeros(0, np.float32), "no speech generated"
    try:
        waves = [np.asarray(lm.vocoder.synthesize(u, speaker_id=speaker_id), np.float32) for u in parts]
    except ValueError as e:
        return np.zeros(0, np.float32), f"not synthesizable: {e}"
    return np.concatenate(waves), ""


def evaluate(config: TTSConfig, transcriber: Transcriber | None = None, lm=None) -> BenchResult:
    lm, timer = start_benchmark(config, lm)
    asr = transcriber or WhisperTranscriber(config.whisper)
    records = config_records(config)
    shot_recs, shots = config_shots(lm, config)
    items = []
    for batch in progress(list(batched(records, config.batch_size)), desc="tts", enabled=config.progress):
        prompts = [tts_inputs(shots, r.text) for r in batch]
        budget = max(config.min_new_tokens_budget, int(max(r.duration for r in batch) * config.tokens_per_second))
        check_context(lm, prompts, "speech", budget)
        results = lm.generate_batch(prompts, output_modality="speech", max_new_tokens=budget, seed=config.seed,
                                    synthesize=False, **sampling_kwargs(config.temperature, config.top_p))
        for rec, res in zip(batch, results):
            wav, problem = speech_of(lm, res, config.speaker_id)
            items.append({"id": rec.id, "text": rec.text, "transcript": asr.transcribe(wav) if len(wav) else "",
                          "new_tokens": len(res.new_ids), "finish_reason": res.finish_reason,
                          "seconds_out": round(len(wav) / 16000, 3), "problem": problem})
    refs, hyps = [r["text"] for r in items], [r["transcript"] for r in items]
    metrics = {"cer": error_rate(refs, hyps, "char").rate, "wer": error_rate(refs, hyps, "word").rate,
               "shots": float(len(shots)), "failed": float(sum(bool(r["problem"]) for r in items))}
    logger.info("TTS %d-shot on %d sentences: CER %.4f", len(shots), len(items), metrics["cer"])
    cfg = asdict(config) | {"shot_ids": [r.id for r in shot_recs]}
    return BenchResult("tts", metrics, len(items), cfg, items, timer.seconds)


def run(config: TTSConfig) -> dict:
    return evaluate(config).to_dict()
