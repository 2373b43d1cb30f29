"""Synthetic speech-text corpus: TTS engines -> 16 kHz wavs + a manifest with word timings, styles, sentiment.

    from spiritlm.data.corpus import build_corpus, get_preset, read_manifest
    build_corpus(get_preset("tiny"), "data/corpus-tiny")
    for utt in read_manifest("data/corpus-tiny/manifest.jsonl"):
        utt.text, utt.words[0].start, utt.speaker, utt.style, utt.split

CLI: `spiritlm data synth|summary|pairs|align-check`. The manifest format is documented in `manifest`.
"""

from .builder import PRESETS, BuildConfig, BuildResult, build_corpus, get_preset
from .manifest import (
                       ManifestError,
                       ManifestWriter,
                       Sentiment,
                       TimedPhone,
                       TimedWord,
                       Utterance,
                       read_manifest,
                       text_words,
                       validate,
)
from .styles import STYLES, Style, get_style

__all__ = ["PRESETS", "STYLES", "BuildConfig", "BuildResult", "ManifestError", "ManifestWriter", "Sentiment",
           "Style", "TimedPhone", "TimedWord", "Utterance", "build_corpus", "get_preset", "get_style",
           "read_manifest", "text_words", "validate"]
