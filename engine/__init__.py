"""mnd's ahead-of-time C engine: int8 .tflite -> model.c (generator, planner, ops, quant) and the portable kernels
it calls (kernels/). Targets (Cortex-M, Linux arm64, Android) build it with their own compilers and flags."""
from pathlib import Path

KERNELS_DIR = Path(__file__).resolve().parent / "kernels"  # the kernels and kernels.h: copied into every generated project
# The portable C99 kernels every build compiles; the DSP and MVE kernel sets' sources (each builds on any core: the
# MVE files are empty without Helium, the DSP ones have C versions of the instructions they use).
PORTABLE_SOURCES = ("kernels.c", "kernels_elementwise.c", "kernels_softmax.c")
DSP_SOURCES = ("kernels_conv_dsp.c", "kernels_depthwise_dsp.c", "kernels_elementwise_dsp.c")
MVE_SOURCES = ("kernels_conv_mve.c", "kernels_im2col_mve.c", "kernels_depthwise_plane_mve.c", "kernels_depthwise_mve.c",
               "kernels_pool_mve.c", "kernels_elementwise_mve.c")
HEADERS = ("kernels.h", "kernels_dsp.h", "kernels_dsp_requant.h", "kernels_gemm_dsp.h", "kernels_depthwise_dsp_asm.h",
           "kernels_mve_common.h", "kernels_gemm_mve.h",
           "kernels_elementwise.h")
