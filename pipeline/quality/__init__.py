"""`mnd quantize-report`: int8 accuracy and per-layer quantization error of a float model under PTQ settings."""
