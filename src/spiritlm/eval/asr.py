"""ASR through the LM: speech in, text out, scored by WER ([P] §4.1, T5).

Each held-out utterance is tokenized to units and put after k transcribed examples
(`fewshot.asr_inputs`: `[Speech]<sp>[Text]<START Transcript> text <END>`); the LM continues in text
only, and the continuation up to `<END>` is the transcript. Without the flags the paper's model
drifts into continuing the story instead of transcribing; `flags=False` reproduces that setting.
WER is corpus-level after normalisation (`metrics.normalize_text`). Paper: Spirit Base 10-shot WER
21.9 on LibriSpeech clean; issue 7 targets <= 30% for the mini models.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from .common import (
    BenchResult,
    batched,
    config_records,
    preset_of,
    progress,
    record_audio,
    start_benchmark,
)
from .fewshot import asr_inputs, config_shots, cut_transcript
from .metrics import error_rate
from .tts import check_context, sampling_kwargs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ASRConfig:
    model: str = ""
    manifest: str = ""
    split: str = "test"
    engines: str = ""  # comma-separated TTS engines to keep ("" = all)
    limit: int | None = 100
    shots: int = 3  # the paper uses 10 with a 1024-token context
    shot_split: str = "train"
    max_shot_seconds: float = 4.0
    flags: bool = True  # <START Transcript> ... <END> around the examples' text
    seed: int = 0
    max_new_tokens: int = 60
    temperature: float = 0.0
    top_p: float = 0.95
    batch_size: int = 4
    progress: bool = True

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> ASRConfig:
        return preset_of(cls, PRESETS, name, overrides)


PRESETS = {
    "default": ASRConfig(),
    "paper": ASRConfig(shots=10),
    "tiny": ASRConfig(limit=2, shots=1, batch_size=2, max_new_tokens=6, progress=False),
}


def evaluate(config: ASRConfig, lm=None) -> BenchResult:
    lm, timer = start_benchmark(config, lm)
    records = config_records(config)
    shot_recs, shots = config_shots(lm, config)
    items = []
    for batch in progress(list(batched(records, config.batch_size)), desc="asr", enabled=config.progress):
        units = [lm.speech_encoder.encode_units(record_audio(config.manifest, r)) for r in batch]
        prompts = [asr_inputs(shots, u, config.flags) for u in units]
        check_context(lm, prompts, "text", config.max_new_tokens)
        results = lm.generate_batch(prompts, output_modality="text", max_new_tokens=config.max_new_tokens,
                                    seed=config.seed, synthesize=False,
                                    **sampling_kwargs(config.temperature, config.top_p))
        for rec, res in zip(batch, results):
            items.append({"id": rec.id, "text": rec.text, "generated": res.text,
                          "transcript": cut_transcript(res.text), "finish_reason": res.finish_reason})
    refs, hyps = [r["text"] for r in items], [r["transcript"] for r in items]
    wer = error_rate(refs, hyps, "word")
    metrics = {"wer": wer.rate, "cer": error_rate(refs, hyps, "char").rate, "shots": float(len(shots)),
               "substitutions": float(wer.substitutions), "deletions": float(wer.deletions),
               "insertions": float(wer.insertions)}
    logger.info("ASR %d-shot on %d utterances: WER %.4f", len(shots), len(items), metrics["wer"])
    cfg = asdict(config) | {"shot_ids": [r.id for r in shot_recs]}
    return BenchResult("asr", metrics, len(items), cfg, items, timer.seconds)


def run(config: ASRConfig) -> dict:
    return evaluate(config).to_dict()
