"""Speech tokenizers: audio -> discrete units.

* `hubert` / `hubert_convert`: HuBERT features (transformers `HubertModel`) and checkpoint conversion;
* `quantizer`: the official linear (CTC-blank) quantizer and a k-means quantizer;
* `tokenizer`: `SpeechTokenizer`, the official chunking rules and batched encoding;
* `pitch`, `f0`, `vqvae`: pitch units (F0 + VQ-VAE); `style`: style units;
* `phone_encoder`: our phone-supervised encoder, a drop-in for HuBERT;
* `bundle`: our own speech side of a checkpoints root (`speech_tokenizer/speech.json`).

Each part has one door: `hubert.load`, `quantizer.load`, `pitch.load`, `style.load` read our format or
Meta's, and the part's `save(path, format="ours" | "official")` writes them back.

Nothing is imported here, so that importing one part never loads the others.
"""
