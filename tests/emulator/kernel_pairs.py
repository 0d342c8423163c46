"""Optimized Cortex-M kernels against the portable ones, byte for byte: one stand-in model runs every case twice,
the portable kernel then the optimized one on the same input, and the firmware's outputs are split back per case.

A case is a dict: "portable" and the optimized kernel set's key name the two C functions, "input_bytes",
"output_bytes", "scratch" (bytes, 0: the kernel takes none), "requant" (its act_min/act_max), "fields", and
c{index}_portable / c{index}_<optimized> parameter structs among its C constants; optionally "operands", the
offsets in its input of each input argument (a binary operator's two; default one, at 0)."""
import shutil

import numpy as np

from mnd.engine import KERNELS_DIR, PORTABLE_SOURCES
from mnd.targets.cortex_m.cores import CORES
from mnd.targets.cortex_m.firmware import build_firmware
from mnd.targets.cortex_m.qemu import run_firmware
from tests.conftest import skip_or_fail

TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm", "qemu-system-arm", "gcc")


def require_toolchain() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not found (run 'make toolchain')")


def model_sources(all_cases: list, constants: list, optimized: str) -> tuple:
    """(model.h, model.c): per case, a marker, the portable kernel, a marker, the `optimized` one."""
    statements = []
    in_offset = out_offset = 0
    for index, case in enumerate(all_cases):
        size = case["output_bytes"]
        scratch = ", scratch" if case["scratch"] else ""
        operands = ", ".join(f"x + {offset}" for offset in case.get("operands", (0,)))
        statements += [f"  memcpy(x, in + {in_offset}, {case['input_bytes']});", "  mnd_marker();",
                       f"  {case['portable']}(&c{index}_portable, {operands}, out + {out_offset});", "  mnd_marker();",
                       f"  {case[optimized]}(&c{index}_{optimized}, {operands}, out + {out_offset + size}{scratch});"]
        in_offset += case["input_bytes"]
        out_offset += 2 * size
    largest_scratch = max(case["scratch"] for case in all_cases)
    largest_input = max(case["input_bytes"] for case in all_cases)
    header = (f"#include <stdint.h>\n#define MND_INPUT_BYTES {in_offset}\n#define MND_OUTPUT_BYTES {out_offset}\n"
              f"#define MND_LAYERS {2 * len(all_cases)}\nvoid mnd_model_invoke(const int8_t* input, int8_t* output);\n")
    source = "\n".join(['#include <string.h>', '#include "model.h"', '#include "kernels.h"', '#include "mnd_harness.h"',
                        f"static int8_t x[{largest_input}] __attribute__((aligned(16)));",
                        f"static uint32_t scratch[{(largest_scratch + 3) // 4 + 1}] __attribute__((aligned(16)));",
                        *constants, "void mnd_model_invoke(const int8_t* in, int8_t* out) {", *statements,
                        "  mnd_marker();", "}", ""])
    return header, source


def run_pairs(core: str, all_cases: list, constants: list, optimized: str, kernel_files: tuple, tmp_path) -> list:
    """[(case, portable outputs, optimized outputs)] on two random inputs, from one firmware run on `core` with the
    portable sources and `kernel_files` (engine.DSP_SOURCES, engine.MVE_SOURCES)."""
    header, source = model_sources(all_cases, constants, optimized)
    (tmp_path / "model.h").write_text(header)
    (tmp_path / "model.c").write_text(source)
    sources = [tmp_path / "model.c", *(KERNELS_DIR / name for name in (*PORTABLE_SOURCES, *kernel_files))]
    firmware = build_firmware(CORES[core], sources, [tmp_path, KERNELS_DIR], tmp_path / "build")
    rng = np.random.default_rng(7)
    inputs = rng.integers(-128, 128, (2, sum(c["input_bytes"] for c in all_cases)), dtype=np.int8)
    result = run_firmware(CORES[core], firmware, tmp_path / "run", inputs.tobytes(), timeout_s=120)
    outputs = np.frombuffer(result.outputs, np.int8).reshape(len(inputs), -1)
    pairs, offset = [], 0
    for case in all_cases:
        size = case["output_bytes"]
        pairs.append((case, outputs[:, offset:offset + size], outputs[:, offset + size:offset + 2 * size]))
        offset += 2 * size
    return pairs


def informative(pairs: list) -> int:
    """Cases with at least one output strictly inside the activation range (not saturated everywhere)."""
    return sum(bool(np.any((portable > case["requant"]["act_min"]) & (portable < case["requant"]["act_max"])))
               for case, portable, _ in pairs)
