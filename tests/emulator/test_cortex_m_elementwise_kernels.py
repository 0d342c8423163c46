"""The element-wise DSP and MVE kernels (kernels_elementwise_dsp.c, kernels_elementwise_mve.c) against the portable
ones (kernels_elementwise.c), byte for byte, on the emulated Cortex-M4 (DSP) and Cortex-M55 (Helium).

ADD and MUL cases cover every broadcast the kernels tell apart (equal shapes, squeeze-and-excite's [1,1,1,C] gate,
a scalar, an innermost axis broadcast on either side or both, a middle axis), odd sizes that leave a vector tail,
zero points, narrow activation ranges, and MUL scales that shift left (the DSP kernel's portable fallback) as well
as right. HARD_SWISH runs sizes on both sides of the table threshold (MVE only: the DSP set keeps the portable one).
Parameters come from engine.quant as the generator derives them."""
import numpy as np
import pytest

from mnd.engine import DSP_SOURCES, MVE_SOURCES, quant
from mnd.engine.ops import _struct
from mnd.engine.ops_elementwise import _c_list, broadcast_strides
from tests.emulator.kernel_pairs import informative, require_toolchain, run_pairs

pytestmark = pytest.mark.emulator

# (input1 shape, input2 shape): the output is their broadcast.
SHAPES = [((1, 3, 5, 7), (1, 3, 5, 7)), ((1, 4, 3, 13), (1, 1, 1, 13)), ((1, 1, 1, 9), (1, 5, 2, 9)),
          ((1, 2, 3, 6), (1, 1, 1, 1)), ((1, 1, 1, 1), (1, 7, 1, 5)), ((1, 3, 4, 1), (1, 3, 4, 5)),
          ((2, 3, 1, 6), (1, 1, 4, 6)), ((1, 5, 3, 1), (1, 1, 1, 1)), ((1, 1, 2, 33), (1, 3, 2, 33))]
HARD_SWISH_SIZES = [1, 19, 319, 320, 333, 1001]


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    require_toolchain()


def _range(rng, index: int) -> tuple:
    return (int(rng.integers(-100, -30)), int(rng.integers(30, 100))) if index % 3 == 2 else (-128, 127)


def _binary_case(rng, index: int, name: str, shapes: tuple, optimized: str) -> dict:
    shape1, shape2 = shapes
    out_shape = tuple(max(a, b) for a, b in zip(shape1, shape2))
    scale1, scale2 = (float(s) for s in rng.uniform(0.004, 0.08, 2))
    if name == "ADD":
        out_scale = float(rng.uniform(0.6, 1.6) * max(scale1, scale2))
        rescale = quant.add_params(scale1, scale2, out_scale)
    else:
        # most cases a product scale below the output's (a right shift), every fourth one above it (a left shift)
        out_scale = scale1 * scale2 * float(rng.uniform(0.2, 0.9) if index % 4 == 3 else rng.uniform(40, 160))
        multiplier, shift = quant.mul_multiplier(scale1, scale2, out_scale)
        rescale = {"left_shift": 0, "input1_multiplier": 0, "input1_shift": 0, "input2_multiplier": 0,
                   "input2_shift": 0, "output_multiplier": multiplier, "output_shift": shift}
    low, high = _range(rng, index)
    zero_points = [int(z) for z in rng.integers(-128, 128, 3)]
    fields = {"shape": _c_list(out_shape), "stride1": _c_list(broadcast_strides(shape1, out_shape)),
              "stride2": _c_list(broadcast_strides(shape2, out_shape)), "input1_offset": -zero_points[0],
              "input2_offset": -zero_points[1], "output_offset": zero_points[2], "act_min": low, "act_max": high,
              **rescale}
    size1 = int(np.prod(shape1))
    function = "mnd_add_s8" if name == "ADD" else "mnd_mul_s8"
    return {"kind": "mnd_elementwise_params", "fields": fields, "requant": {"act_min": low, "act_max": high},
            "input_bytes": size1 + int(np.prod(shape2)), "operands": (0, size1),
            "output_bytes": int(np.prod(out_shape)), "scratch": 0, "portable": function,
            optimized: function.removesuffix("_s8") + f"_{optimized}_s8"}


def _hard_swish_case(rng, size: int) -> dict:
    in_scale = float(rng.uniform(0.01, 0.1))
    params = quant.hard_swish_params(in_scale, in_scale * float(rng.uniform(0.4, 1.2)))
    fields = {"size": size, "input_zero_point": int(rng.integers(-128, 128)),
              "output_zero_point": int(rng.integers(-128, 0)), **params}
    return {"kind": "mnd_hard_swish_params", "fields": fields, "requant": {"act_min": -128, "act_max": 127},
            "input_bytes": size, "output_bytes": size, "scratch": 0, "portable": "mnd_hard_swish_s8",
            "mve": "mnd_hard_swish_mve_s8"}


def cases(optimized: str, seed: int = 22) -> list:
    rng = np.random.default_rng(seed)
    binary = [_binary_case(rng, i, name, shapes, optimized) for name in ("ADD", "MUL")
              for i, shapes in enumerate(SHAPES)]
    return binary + ([_hard_swish_case(rng, size) for size in HARD_SWISH_SIZES] if optimized == "mve" else [])


@pytest.mark.parametrize("core, optimized, sources", [("cortex-m4", "dsp", DSP_SOURCES),
                                                      ("cortex-m55", "mve", MVE_SOURCES)])
def test_elementwise_kernels_match_portable(core, optimized, sources, tmp_path):
    all_cases = cases(optimized)
    constants = [_struct(f"c{index}_{variant}", case["kind"], case["fields"])
                 for index, case in enumerate(all_cases) for variant in ("portable", optimized)]
    pairs = run_pairs(core, all_cases, constants, optimized, sources, tmp_path)
    differing = [f"case {index} ({case[optimized]} {case['fields']}): {int(np.sum(portable != ours))} of "
                 f"{portable.size} values" for index, (case, portable, ours) in enumerate(pairs)
                 if not np.array_equal(portable, ours)]
    assert not differing, f"{optimized} element-wise kernels differ from the portable ones:\n" + "\n".join(differing)
    assert informative(pairs) >= 0.9 * len(all_cases), "most cases saturate everywhere: the test would show little"
