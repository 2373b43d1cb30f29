"""Evaluation: the paper's benchmarks and issue 7's quality checks, one module per benchmark.

Every benchmark module has a frozen config dataclass (with `preset("default" | "tiny", **overrides)`)
and `run(config) -> dict` (a `common.BenchResult` as a dict: `benchmark`, `metrics`, `n_items`,
`config`, one row per item, `seconds`); `evaluate(config, lm=..., transcriber=...)` returns the typed
result and lets several benchmarks share one loaded model and one Whisper.

==============  ==============================================================  ====================
module          measures                                                        paper
==============  ==============================================================  ====================
referee         Whisper on the original audio: the floor under every CER         (harness check)
resynthesis     speech tokenizer -> vocoder, Whisper CER                        T9
tts             text -> speech through the LM (few-shot), Whisper CER           T5, App. B
asr             speech -> text through the LM (few-shot, transcript flags), WER  T5, App. B
perplexity      text perplexity vs the starting text LM (word-level, comparable) T4 (MMLU drop)
style           S->S continuation keeps the prompt's style (style classifier)   §5 (Expressive)
sentiment       T->S / S->T / T->T / S->S sentiment preservation (VADER, Whisper) T3 (STSP)
likelihood      word/non-word and grammatical pairs; tSC-style cloze T,S,T2S,S2T T4, T10
stsp            the official STSP reference/prediction files and accuracy line  official §10
report          Markdown table of results with the command and issue 7 targets
paper/          the releases (sLM21, spoken StoryCloze, MMLU, FSC intent, LibriSpeech) T4, T5, T10
==============  ==============================================================  ====================

Shared pieces: `metrics` (normalisation, WER/CER, pair ties, accuracy), `scoring` (sequence
log-likelihoods), `asr_whisper` (offline Whisper tiny.en), `fewshot` (the paper's prompt formats),
`common` (data selection, results). `unit_quality` (phone purity, PNMI of speech units) serves the
speech-tokenizer training, `real_speech` scores the units on real recordings too (pocketsphinx-testdata,
forced-aligned; `spiritlm eval unit-quality --kmeans K --real-speech`). Command line:
`spiritlm eval <benchmark> ...` and `spiritlm eval all ...` (`spiritlm.cli.eval`); the paper's tables
on the public releases: `spiritlm eval paper --model M --data-root R` (`spiritlm.eval.paper`).
"""

BENCHMARKS = {  # command name -> (module, config class)
    "referee": ("spiritlm.eval.referee", "RefereeConfig"),
    "resynthesis": ("spiritlm.eval.resynthesis", "ResynthesisConfig"),
    "tts": ("spiritlm.eval.tts", "TTSConfig"),
    "asr": ("spiritlm.eval.asr", "ASRConfig"),
    "perplexity": ("spiritlm.eval.perplexity", "PerplexityConfig"),
    "style": ("spiritlm.eval.style", "StyleConfig"),
    "sentiment": ("spiritlm.eval.sentiment", "SentimentConfig"),
    "likelihood": ("spiritlm.eval.likelihood", "LikelihoodConfig"),
    "stsp": ("spiritlm.eval.stsp", "StspConfig"),
}
