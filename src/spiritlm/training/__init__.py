"""Training of the trainable parts, one module per part (`lm` for the language model, with `config`,
`lm_checkpoint` and `lm_plot`). Modules import torch inside functions, so the CLI stays fast."""
