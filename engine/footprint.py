"""Flash estimate of a generated model without compiling it: the constant arrays model.c declares (weights, biases,
requantization multipliers and shifts, in the layouts the kernel set reads), counted exactly from the C, plus the
engine's code and small tables as measured once for each core's kernel set.

CODE_BYTES: text + non-array rodata of the "model" part (model.c and the kernels; gc-sections drops unused kernels)
of MLPerf Tiny VWW int8 firmware, arm-none-eabi-gcc 12 -O2, from `targets.cortex_m.firmware.build_firmware`
(December 2026): cortex-m4 DSP 27,820 + 2,596; m7 28,000 + 2,596; m33 27,904 + 2,596; m55 Helium 11,072 + 2,576;
cortex-m4 portable 6,328 + 2,576; then the DSP kernels split into a convolution and a depthwise file, each with its
own copy of the requantization tables' code (the same firmware grew by 640 B on m4 and m7, 628 B on m33); then
the DSP convolutions took three pixels per pass with shallow depths unrolled (issue 26): m4 53,532, m7 53,668, m33
53,648 (text + rodata - constant arrays; digits' firmware 300 B less); and the Helium kernels' assembly fast paths
(GEMM over filter pairs and up to 16 deep, small-image depthwise) grew m55 by 4,728 B;
then the depthwise kernel's column pairs and the four-channel average pooling (issue 26: m4 +9,792 B, m33 +9,760 B,
m7 +1,536 B: the M7 keeps one column at a time; portable +256 B).
Models with other ops (V2/V3: ADD, MUL, HARD_SWISH) link more kernels. tests/emulator/test_flash_estimate.py holds
the estimate against the README tour's builds (digits on every core, VWW on the M4: within 0.2% in December 2026).
"""
import re

ELEMENT_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4}
_ARRAY = re.compile(r"^static const (\w+) \w+\[(\d+)\]", re.M)
CODE_BYTES = {("cortex-m4", "dsp"): 63332, ("cortex-m7", "dsp"): 55204, ("cortex-m33", "dsp"): 63408,
              ("cortex-m55", "mve"): 18376, ("cortex-m4", "portable"): 9160}
PORTABLE_CODE_BYTES = CODE_BYTES[("cortex-m4", "portable")]
BASIS = ("flash estimated, not built: the generated model.c's constant arrays counted exactly, plus {code:,} B of "
         "engine code and tables measured on MLPerf VWW's {core} firmware ({kernels} kernels, -O2); RAM: the planned "
         "arena plus the caller's input and output buffers, without the application's stack")


def constant_bytes(model_c: str) -> int:
    """Bytes of the `static const T name[N]` arrays in a generated model.c."""
    return sum(ELEMENT_BYTES.get(kind, 4) * int(count) for kind, count in _ARRAY.findall(model_c))


def code_bytes(core: str | None, kernels: str) -> int:
    """The measured code allowance for `core`'s kernel set; the portable one for any core without a measurement."""
    return CODE_BYTES.get((core, kernels), PORTABLE_CODE_BYTES)


def flash_estimate(model_c: str, core: str | None, kernels: str) -> "tuple[int, str]":
    """(bytes, how they were estimated)."""
    code = code_bytes(core, kernels)
    measured_on = core if (core, kernels) in CODE_BYTES else "cortex-m4"
    return constant_bytes(model_c) + code, BASIS.format(code=code, core=measured_on, kernels=kernels)
