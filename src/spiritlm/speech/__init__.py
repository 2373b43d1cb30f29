"""Speech tokenizers: audio -> discrete units.

* `hubert` / `hubert_convert`: HuBERT features (transformers `HubertModel`) and checkpoint conversion;
* `quantizer`: the official linear (CTC-blank) quantizer and a k-means quantizer;
* `tokenizer`: `SpeechTokenizer`, the official chunking rules and batched encoding;
* `pitch`, `f0`, `vqvae`: pitch units (F0 + VQ-VAE); `style`: style units.

Nothing is imported here, so that importing one part never loads the others.
"""
