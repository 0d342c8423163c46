"""The MVE kernels (kernels_*_mve.c) against the portable ones on the emulated Cortex-M55, byte for byte.

One firmware runs every case twice: the portable kernel on the TFLite-layout weights and the MVE kernel on the
same weights rearranged by engine.layouts_mve, each on the same random input; the outputs must agree. Cases cover
odd channel counts, pixel counts that are not a multiple of four, depths up to 16 and beyond, padding, strides 1
and 2, 3x3 and 5x5 depthwise, 1x1 and 3x3 im2col convolutions on 1, 2, 3 and odd input channels, zero points,
narrow activation ranges, left shifts, right shifts up to 31 and a bias large enough to wrap the left shift."""
import numpy as np
import pytest

from mnd.engine import MVE_SOURCES, layouts_mve
from mnd.engine.ops import _array, _struct
from tests.emulator.kernel_pairs import informative, require_toolchain, run_pairs

pytestmark = pytest.mark.emulator

CORE = "cortex-m55"
# (in_c, out_c, height, width)
POINTWISE = [(8, 16, 4, 4), (3, 5, 3, 3), (17, 7, 1, 5), (33, 33, 2, 3), (64, 4, 1, 3), (16, 1, 2, 2), (5, 17, 3, 1)]
# channel 0 shifting by 0 rather than left, on the GEMM fast paths (depth a multiple of 16 from 32 and an even out_c;
# up to 16 deep), whole and partial blocks of four pixels
POINTWISE_NO_LEFT = [(32, 8, 3, 3), (48, 12, 1, 6), (256, 4, 1, 5), (16, 6, 2, 2), (8, 4, 1, 5)]
# (in_c, out_c, height, width, kernel, stride, same_padding)
CONV = [(3, 8, 7, 7, 3, 2, True), (1, 5, 5, 6, 3, 1, True), (5, 3, 6, 5, 3, 2, False), (3, 17, 9, 9, 3, 2, True),
        (2, 4, 4, 5, 1, 2, False), (33, 6, 4, 4, 3, 1, True), (3, 8, 12, 12, 3, 2, True), (2, 5, 9, 11, 3, 1, False)]
# the same for im2col beyond 16 deep (5x5: window copies of five rows)
CONV_NO_LEFT = [(3, 8, 7, 7, 3, 2, True), (33, 4, 4, 4, 3, 1, True), (2, 12, 5, 6, 3, 1, False),
                (2, 4, 9, 13, 5, 1, True)]
# (channels, height, width, kernel, stride, same_padding)
POOL = [(256, 3, 3, 3, 1, False), (5, 7, 6, 3, 2, True), (17, 5, 5, 2, 2, False), (3, 4, 4, 3, 1, True)]
# (channels, height, width, stride, same_padding)
DEPTHWISE = [(8, 5, 5, 1, True), (13, 4, 6, 2, True), (4, 3, 3, 1, False), (7, 7, 5, 2, False), (16, 6, 6, 2, True),
             (1, 4, 4, 1, True), (24, 2, 3, 1, True), (33, 5, 7, 1, True), (17, 6, 9, 2, True), (3, 5, 5, 1, True),
             (40, 6, 6, 1, True), (37, 7, 5, 2, True), (29, 8, 7, 3, False)]
# channel 0 shifting by 0 rather than left: the 3x3 kernels' loops without the left shift
DEPTHWISE_NO_LEFT = [(32, 6, 6, 2, True), (8, 3, 4, 1, True), (8, 5, 7, 1, True)]


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    require_toolchain()


def _requant(rng, channels: int, depth: int, narrow: bool, left: bool = True) -> dict:
    """Right shifts that bring sums of `depth` products near the int8 range; in channel 0 of several, a left
    shift (a shift of 0 without `left`)."""
    typical = 8 + int(np.log2(depth))
    shifts = rng.integers(-typical - 2, -typical + 3, channels)
    if channels > 1:
        shifts[0] = 1 if left else 0
    if channels > 3:
        shifts[1], shifts[2] = -22, -31
    multipliers = rng.integers(1 << 30, (1 << 31) - 1, channels)
    zero_point = int(rng.integers(-128, 128))
    low, high = (int(rng.integers(-100, -20)), int(rng.integers(20, 100))) if narrow else (-128, 127)
    return {"multiplier": multipliers, "shift": shifts, "output_zero_point": zero_point, "act_min": low,
            "act_max": high}


def _bias(rng, channels: int, depth: int) -> np.ndarray:
    bias = rng.integers(-64 * 128 * depth, 64 * 128 * depth, channels)
    if channels > 1:
        bias[0] = (1 << 30) + 12345  # with channel 0's left shift, the shifted sum wraps as in TFLite
    return bias


def _window(size: int, kernel: int, stride: int, same: bool) -> tuple:
    """(output size, padding before) along one axis."""
    out = (size + stride - 1) // stride if same else (size - kernel) // stride + 1
    return out, (max((out - 1) * stride + kernel - size, 0) // 2 if same else 0)


def _conv_fields(in_c: int, out_c: int, h: int, w: int, kernel: int, stride: int, same: bool, rng) -> dict:
    (out_h, pad_h), (out_w, pad_w) = _window(h, kernel, stride, same), _window(w, kernel, stride, same)
    return {"in_h": h, "in_w": w, "in_c": in_c, "out_h": out_h, "out_w": out_w, "out_c": out_c, "k_h": kernel,
            "k_w": kernel, "stride_h": stride, "stride_w": stride, "dilation_h": 1, "dilation_w": 1,
            "pad_top": pad_h, "pad_left": pad_w, "input_zero_point": int(rng.integers(-128, 128))}


def _gemm_case(rng, index: int, fields: dict, function: str, scratch: int, left: bool = True) -> dict:
    in_c, out_c, kernel = fields["in_c"], fields["out_c"], fields["k_h"]
    layout = layouts_mve.pointwise_mve if function == "mnd_pointwise_mve_s8" else layouts_mve.im2col_mve
    weights = rng.integers(-128, 128, (out_c, kernel * kernel * in_c))
    return {"kind": "conv", "fields": fields, "weights": weights, "mve_weights": layout(weights),
            "requant": _requant(rng, out_c, weights.shape[1], index % 2 == 1, left),
            "bias": _bias(rng, out_c, weights.shape[1]),
            "input_bytes": fields["in_h"] * fields["in_w"] * in_c,
            "output_bytes": fields["out_h"] * fields["out_w"] * out_c, "scratch": scratch, "mve": function,
            "portable": "mnd_conv2d_s8"}


def _pointwise_case(rng, index: int, shape: tuple, left: bool = True) -> dict:
    in_c, out_c, h, w = shape
    return _gemm_case(rng, index, _conv_fields(in_c, out_c, h, w, 1, 1, False, rng), "mnd_pointwise_mve_s8",
                      layouts_mve.pointwise_mve_scratch(out_c), left)


def _conv_case(rng, index: int, shape: tuple, left: bool = True) -> dict:
    in_c, out_c, h, w, kernel, stride, same = shape
    return _gemm_case(rng, index, _conv_fields(in_c, out_c, h, w, kernel, stride, same, rng),
                      "mnd_conv_im2col_mve_s8", layouts_mve.im2col_mve_scratch(kernel * kernel * in_c, out_c), left)


DEPTHWISE_KERNELS = {  # function: (weight layout, scratch bytes from the fields)
    "mnd_depthwise3x3_mve_s8": (layouts_mve.depthwise_mve, lambda f: layouts_mve.depthwise_mve_scratch(
        f["in_h"], f["in_w"], f["out_h"], f["out_w"], f["stride_h"], f["stride_w"])),
    "mnd_depthwise3x3_small_mve_s8": (layouts_mve.depthwise_small_mve,
                                      lambda f: layouts_mve.depthwise_small_mve_scratch(f["out_c"])),
    "mnd_depthwise5x5_mve_s8": (layouts_mve.depthwise_small_mve,
                                lambda f: layouts_mve.depthwise_small_mve_scratch(f["out_c"], 25))}


def _depthwise_case(rng, index: int, shape: tuple, function: str, left: bool = True) -> dict:
    channels, h, w, stride, same = shape
    kernel = 5 if "5x5" in function else 3
    fields = _conv_fields(channels, channels, h, w, kernel, stride, same, rng)
    fields = {**fields, "depth_multiplier": 1}
    weights = rng.integers(-128, 128, (channels, kernel * kernel))
    layout, scratch = DEPTHWISE_KERNELS[function]
    return {"kind": "depthwise", "fields": fields, "weights": weights, "mve_weights": layout(weights),
            "requant": _requant(rng, channels, kernel * kernel, index % 2 == 0, left),
            "bias": _bias(rng, channels, kernel * kernel),
            "input_bytes": h * w * channels, "output_bytes": fields["out_h"] * fields["out_w"] * channels,
            "scratch": scratch(fields), "mve": function, "portable": "mnd_depthwise_conv2d_s8"}


def _pool_case(rng, index: int, shape: tuple) -> dict:
    channels, h, w, kernel, stride, same = shape
    conv = _conv_fields(channels, channels, h, w, kernel, stride, same, rng)
    low, high = (int(rng.integers(-100, -20)), int(rng.integers(20, 100))) if index % 2 else (-128, 127)
    fields = {"in_h": h, "in_w": w, "channels": channels, "out_h": conv["out_h"], "out_w": conv["out_w"],
              "k_h": kernel, "k_w": kernel, "stride_h": stride, "stride_w": stride, "pad_top": conv["pad_top"],
              "pad_left": conv["pad_left"], "act_min": low, "act_max": high}
    return {"kind": "pool", "fields": fields, "requant": {"act_min": low, "act_max": high},
            "input_bytes": h * w * channels, "output_bytes": conv["out_h"] * conv["out_w"] * channels, "scratch": 0,
            "mve": "mnd_avg_pool_mve_s8", "portable": "mnd_avg_pool_s8"}


def cases(seed: int = 15) -> list:
    rng = np.random.default_rng(seed)
    return [_pointwise_case(rng, i, s) for i, s in enumerate(POINTWISE)] + \
        [_pointwise_case(rng, i, s, left=False) for i, s in enumerate(POINTWISE_NO_LEFT)] + \
        [_conv_case(rng, i, s) for i, s in enumerate(CONV)] + \
        [_conv_case(rng, i, s, left=False) for i, s in enumerate(CONV_NO_LEFT)] + \
        [_depthwise_case(rng, i, s, f) for f in DEPTHWISE_KERNELS for i, s in enumerate(DEPTHWISE)
         if "5x5" not in f or s[4] or min(s[1:3]) >= 5] + \
        [_depthwise_case(rng, i, s, f, left=False) for f in ("mnd_depthwise3x3_mve_s8", "mnd_depthwise3x3_small_mve_s8")
         for i, s in enumerate(DEPTHWISE_NO_LEFT)] + \
        [_pool_case(rng, i, s) for i, s in enumerate(POOL)]


def _case_constants(index: int, case: dict) -> list:
    p = f"c{index}_"
    if case["kind"] == "pool":
        return [_struct(f"{p}portable", "mnd_pool_params", case["fields"]),
                _struct(f"{p}mve", "mnd_pool_params", case["fields"])]
    rq = case["requant"]
    ctype = "mnd_conv_params" if case["kind"] == "conv" else "mnd_depthwise_params"
    common = {**case["fields"], "output_zero_point": rq["output_zero_point"], "act_min": rq["act_min"],
              "act_max": rq["act_max"], "bias": f"{p}bias", "multiplier": f"{p}mult", "shift": f"{p}shift"}
    return [_array(f"{p}w", "int8_t", case["weights"]), _array(f"{p}wm", "int8_t", case["mve_weights"]),
            _array(f"{p}bias", "int32_t", case["bias"]), _array(f"{p}mult", "int32_t", rq["multiplier"]),
            _array(f"{p}shift", "int32_t", rq["shift"]),
            _struct(f"{p}portable", ctype, {**common, "weights": f"{p}w"}),
            _struct(f"{p}mve", ctype, {**common, "weights": f"{p}wm"})]


def test_mve_kernels_match_portable(tmp_path):
    all_cases = cases()
    constants = [line for index, case in enumerate(all_cases) for line in _case_constants(index, case)]
    pairs = run_pairs(CORE, all_cases, constants, "mve", MVE_SOURCES, tmp_path)
    differing = [f"case {index} ({case['mve']} {case['fields']}): {int(np.sum(portable != mve))} of {portable.size} "
                 "values" for index, (case, portable, mve) in enumerate(pairs) if not np.array_equal(portable, mve)]
    assert not differing, "MVE kernels differ from the portable ones:\n" + "\n".join(differing)
    assert informative(pairs) >= 0.9 * len(all_cases), "most cases saturate everywhere: the test would show little"
