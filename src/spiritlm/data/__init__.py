"""Data for Spirit LM: corpora of parallel speech and text, and their preparation for training.

* `spiritlm.data.corpus` builds a synthetic speech-text corpus offline with the TTS engines that install
  from Debian and PyPI (espeak-ng, flite, festival, Piper): 16 kHz wavs plus a JSON Lines manifest with
  word (and phoneme) timings, speakers, expressive styles, sentiment and held-out splits.
* Downstream modules (interleaving, datasets) read that manifest: word timings are what word-level
  speech/text interleaving cuts on.
"""
