"""The `quantize=` options of `load_lm` / `SpiritLM.from_pretrained` and the CLI's `--quantize` (no imports:
the CLI lists them without loading torch)."""

QUANTIZE_OPTIONS = ("int8", "int8-weight", "int4", "llamacpp-q4_0", "llamacpp-q8_0", "llamacpp-f16", "llamacpp-f32")
QUANTIZE_HELP = ("quantize the LM: int8 (dynamic, fastest for small models), int8-weight / int4 (weight-only, loaded "
                 "layer by layer), llamacpp-q4_0 / q8_0 / f16 / f32 (llama.cpp on a GGUF export; `make llamacpp`)")
