"""Speech tokenizers: HuBERT units, pitch (F0 VQ-VAE) and style."""
