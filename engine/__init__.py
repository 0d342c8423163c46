"""mnd's ahead-of-time C engine: int8 .tflite -> model.c (generator, planner, ops, quant) and the portable kernels
it calls (kernels/). Targets (Cortex-M, Linux arm64, Android) build it with their own compilers and flags."""
from pathlib import Path

KERNELS_DIR = Path(__file__).resolve().parent / "kernels"  # kernels.c, kernels.h: copied into every generated project
