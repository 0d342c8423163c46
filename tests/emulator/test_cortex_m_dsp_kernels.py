"""The DSP kernels (kernels_conv_dsp.c, kernels_depthwise_dsp.c) against the portable ones, on the emulated cores, byte for byte.

One firmware per core runs every case twice: the portable kernel on the TFLite-layout weights and the DSP
kernel on the same weights rearranged by engine.layouts, each on the same random input; the outputs must agree.
Cases cover odd channel counts, odd pixel counts, padding, strides 1 and 2, kernel sizes 1, 3 and 5 (the im2col
convolution; 3x3 and 5x5 depthwise), zero points, narrow activation ranges, positive shifts, right shifts of 22, 23
and up to 31, a zero multiplier and a huge bias (the 64-bit requantization path), each kind of layer the kernels
tell apart, and output channels that are one value for every input (which the DSP kernels store, not sum)."""
import numpy as np
import pytest

from mnd.engine import DSP_SOURCES, constant_channels, layouts
from mnd.engine.ops import _array, _struct
from tests.emulator.kernel_pairs import informative, require_toolchain, run_pairs

pytestmark = pytest.mark.emulator

DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
# (in_c, out_c, height, width) for 1x1 convolutions (a 1x1 image: the one-pixel kernel); (channels, height, width,
# stride, same_padding) for 3x3 depthwise ones.
POINTWISE = [(8, 16, 4, 4), (16, 5, 3, 3), (13, 7, 1, 5), (32, 33, 2, 3), (64, 4, 1, 3), (6, 1, 2, 2), (3, 5, 3, 3),
             (24, 7, 1, 1), (13, 6, 1, 1)]
# (in_c, out_c, height, width, kernel, stride, same_padding) for other convolutions (the im2col kernel).
CONV = [(3, 8, 9, 9, 3, 2, True), (1, 5, 5, 6, 3, 1, True), (5, 3, 6, 5, 3, 1, False), (3, 4, 8, 7, 3, 2, False),
        (7, 6, 5, 5, 1, 2, True), (2, 3, 6, 6, 5, 1, True)]
DEPTHWISE = [(8, 5, 5, 1, True), (13, 4, 6, 2, True), (4, 3, 3, 1, False), (7, 7, 5, 2, False),
             (16, 6, 6, 2, True), (1, 4, 4, 1, True), (24, 2, 3, 1, True)]
# As DEPTHWISE, with the requantization style (_requant) forced: the folded path of the column pairs (stride 1 and
# 2) with a channel tail and an odd last column, full range and narrow (the four-byte clamp).
DEPTHWISE_FOLDED = [((14, 5, 7, 1, True), 1), ((8, 6, 5, 1, False), 4), ((12, 7, 7, 2, True), 4)]


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    require_toolchain()


def _requant(rng, channels: int, style: int) -> dict:
    """style 0: a mix with every requantization path (a left shift, right shifts 22 and 23, a huge bias from _bias)
    and a narrow output range half the time; 1: right shifts up to 22 only, full range (the kernels' folded path);
    2: also right shifts past 22 and a zero multiplier, full range (their one-multiply path); 3: as 2 with a huge
    bias (_bias) on a channel shifting right by 25 (their wide path); 4: as 1 with a narrow output range."""
    shifts = rng.integers(-17, -7, channels)
    multipliers = rng.integers(1 << 30, (1 << 31) - 1, channels)
    if style == 0:
        shifts[0] = 1  # a left shift
        if channels > 3:  # the largest right shift with the zero point folded in before it, and the first past it
            shifts[1], shifts[2] = -22, -23
        shifts[-1] = -26  # with the last channel's huge bias (_bias), an output inside the int8 range
    if style in (2, 3):
        shifts[0], multipliers[-1] = -31, 0
        if channels > 2:
            shifts[1] = -25
    zero_point = int(rng.integers(-128, 128))
    narrow = (style == 0 and bool(rng.integers(0, 2))) or style == 4
    low, high = (int(rng.integers(-128, 0)), int(rng.integers(0, 128))) if narrow else (-128, 127)
    return {"multiplier": multipliers, "shift": shifts, "output_zero_point": zero_point, "act_min": low,
            "act_max": high}


def _bias(rng, channels: int, depth: int, style: int) -> np.ndarray:
    bias = rng.integers(-64 * 128 * depth, 64 * 128 * depth, channels)
    if style == 0:
        bias[-1] = (1 << 30) + 12345  # too big for the one-multiply requantization: the 64-bit path
    if style == 3 and channels > 2:
        bias[1] = -(1 << 30) - 999  # a dead channel's: the wide path
    return bias


def _constant_channels(case: dict, index: int) -> dict:
    """Every other case tells the DSP kernel of its channels whose output is one value (engine.constant_channels;
    biases far beyond the sums on two channels, weights of zero on a third): it then sums only the others. The
    rest sum every channel, dead or not (as for a DSP kernel the generator never gave them to), which keeps each
    requantization path of the kernels under test."""
    weights, bias, rq = case["weights"], case["bias"], case["requant"]
    out_c = len(weights)
    live, constant = list(range(out_c)), {}
    if index % 2 and out_c >= 4:
        bias[1], bias[out_c // 2] = -(1 << 28), 1 << 28
        weights[-1] = 0
        live, constant = constant_channels.split_channels(weights, bias, rq["multiplier"], rq["shift"],
                                                          rq["output_zero_point"], rq["act_min"], rq["act_max"])
    return {"live": live, "constant": constant, "live_requant": {
        "bias": bias[live], "multiplier": rq["multiplier"][live], "shift": rq["shift"][live]}}


def _pointwise_case(rng, index: int, shape: tuple) -> dict:
    in_c, out_c, h, w = shape
    weights = rng.integers(-128, 128, (out_c, in_c))
    fields = {"in_h": h, "in_w": w, "in_c": in_c, "out_h": h, "out_w": w, "out_c": out_c, "k_h": 1, "k_w": 1,
              "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1, "pad_top": 0, "pad_left": 0,
              "input_zero_point": int(rng.integers(-128, 128))}
    case = {"kind": "conv", "fields": fields, "weights": weights, "requant": _requant(rng, out_c, index % 4),
            "bias": _bias(rng, out_c, in_c, index % 4), "input_bytes": h * w * in_c, "output_bytes": h * w * out_c,
            "portable": "mnd_conv2d_s8"}
    case.update(_constant_channels(case, index))
    gemm = _gemm_weights(weights[case["live"]], index % 3, "pointwise") if h * w > 1 else \
        _gemm_weights(weights[case["live"]], index % 2, "pointwise_pixel")
    return {**case, **gemm, "scratch": layouts.pointwise_dsp_scratch(in_c, out_c) + gemm.get("extra_scratch", 0)}


def _gemm_weights(weights: np.ndarray, variant: int, kernel: str) -> dict:
    """variant 0: the kernel itself; 1: its twin with weights widened ahead of time; 2: the pointwise kernel that
    widens them at run time (extra scratch)."""
    if variant == 1:
        return {"dsp_weights": layouts.gemm_w16(weights), "dsp": f"mnd_{kernel}_w16_dsp_s8"}
    if variant == 2:
        out_c, in_c = weights.shape
        return {"dsp_weights": layouts.pointwise_dsp(weights), "dsp": "mnd_pointwise_widen_dsp_s8",
                "extra_scratch": layouts.widened_bytes(in_c, out_c)}
    return {"dsp_weights": layouts.pointwise_dsp(weights), "dsp": f"mnd_{kernel}_dsp_s8"}


def _window(size: int, kernel: int, stride: int, same: bool) -> tuple:
    """(output size, padding before) along one axis."""
    out = (size + stride - 1) // stride if same else (size - kernel) // stride + 1
    return out, max((out - 1) * stride + kernel - size, 0) // 2 if same else 0


def _conv_case(rng, index: int, shape: tuple) -> dict:
    in_c, out_c, h, w, k, stride, same = shape
    (out_h, pad_h), (out_w, pad_w) = _window(h, k, stride, same), _window(w, k, stride, same)
    weights = rng.integers(-128, 128, (out_c, k * k * in_c))
    fields = {"in_h": h, "in_w": w, "in_c": in_c, "out_h": out_h, "out_w": out_w, "out_c": out_c, "k_h": k, "k_w": k,
              "stride_h": stride, "stride_w": stride, "dilation_h": 1, "dilation_w": 1, "pad_top": pad_h,
              "pad_left": pad_w, "input_zero_point": int(rng.integers(-128, 128))}
    case = {"kind": "conv", "fields": fields, "weights": weights, "requant": _requant(rng, out_c, index % 4),
            "bias": _bias(rng, out_c, k * k * in_c, index % 4), "input_bytes": h * w * in_c,
            "output_bytes": out_h * out_w * out_c, "scratch": layouts.conv_dsp_scratch(k * k * in_c, out_c),
            "portable": "mnd_conv2d_s8"}
    case.update(_constant_channels(case, index))
    return {**case, **_gemm_weights(weights[case["live"]], (index + 1) % 2, "conv")}


def _depthwise_case(rng, index: int, shape: tuple, k: int, style: int | None = None) -> dict:
    channels, h, w, stride, same = shape
    out_h, out_w = ((h + stride - 1) // stride, (w + stride - 1) // stride) if same else \
        ((h - k) // stride + 1, (w - k) // stride + 1)
    pad_h, pad_w = (max((out_h - 1) * stride + k - h, 0) // 2, max((out_w - 1) * stride + k - w, 0) // 2) \
        if same else (0, 0)
    weights = rng.integers(-128, 128, (channels, k * k))
    fields = {"in_h": h, "in_w": w, "in_c": channels, "out_h": out_h, "out_w": out_w, "out_c": channels,
              "depth_multiplier": 1, "k_h": k, "k_w": k, "stride_h": stride, "stride_w": stride, "dilation_h": 1,
              "dilation_w": 1, "pad_top": pad_h, "pad_left": pad_w, "input_zero_point": int(rng.integers(-128, 128))}
    return {"kind": "depthwise", "fields": fields, "weights": weights, "dsp_weights": layouts.depthwise_dsp(weights),
            "requant": _requant(rng, channels, index % 4 if style is None else style),
            "bias": _bias(rng, channels, k * k, index % 4 if style is None else style),
            "input_bytes": h * w * channels, "output_bytes": out_h * out_w * channels,
            "scratch": layouts.depthwise_dsp_scratch(channels, out_w, stride, k), "dsp": f"mnd_depthwise{k}x{k}_dsp_s8",
            "portable": "mnd_depthwise_conv2d_s8"}


def cases(seed: int = 15) -> list:
    rng = np.random.default_rng(seed)
    return [_pointwise_case(rng, i, s) for i, s in enumerate(POINTWISE)] + \
        [_conv_case(rng, i, s) for i, s in enumerate(CONV)] + \
        [_depthwise_case(rng, i, s, k) for k in (3, 5) for i, s in enumerate(DEPTHWISE)
         if k == 3 or s[4] or min(s[1:3]) >= 5] + \
        [_depthwise_case(rng, 0, s, k, style) for k in (3, 5) for s, style in DEPTHWISE_FOLDED if k == 3 or s[4]]


def _case_c(index: int, case: dict) -> tuple:
    """(constants, statements) running case `index` both ways: input at in + offset, outputs to out + offsets."""
    p = f"c{index}_"
    rq = case["requant"]
    constants = [_array(f"{p}w", "int8_t", case["weights"]),
                 _array(f"{p}wd", "int8_t", case["dsp_weights"], aligned=4),
                 _array(f"{p}bias", "int32_t", case["bias"]), _array(f"{p}mult", "int32_t", rq["multiplier"]),
                 _array(f"{p}shift", "int32_t", rq["shift"])]
    ctype = "mnd_conv_params" if case["kind"] == "conv" else "mnd_depthwise_params"
    common = {**case["fields"], "output_zero_point": rq["output_zero_point"], "act_min": rq["act_min"],
              "act_max": rq["act_max"], "bias": f"{p}bias", "multiplier": f"{p}mult", "shift": f"{p}shift"}
    dsp = {**common, "weights": f"{p}wd"}
    if case.get("constant"):
        live = case["live_requant"]
        constants += [_array(f"{p}live_bias", "int32_t", live["bias"]),
                      _array(f"{p}live_mult", "int32_t", live["multiplier"]),
                      _array(f"{p}live_shift", "int32_t", live["shift"])]
        arrays, fields = constant_channels.params_arrays(p, case["live"], case["constant"])
        constants += arrays
        dsp.update({"bias": f"{p}live_bias", "multiplier": f"{p}live_mult", "shift": f"{p}live_shift", **fields})
    constants += [_struct(f"{p}portable", ctype, {**common, "weights": f"{p}w"}), _struct(f"{p}dsp", ctype, dsp)]
    return constants, case


@pytest.mark.parametrize("core", DSP_CORES)
def test_dsp_kernels_match_portable(core, tmp_path):
    all_cases = cases()
    assert sum(len(case.get("constant", ())) >= 2 for case in all_cases) >= 4, "too few cases skip channels"
    constants = [line for index, case in enumerate(all_cases) for line in _case_c(index, case)[0]]
    pairs = run_pairs(core, all_cases, constants, "dsp", DSP_SOURCES, tmp_path)
    for index, (case, portable, dsp) in enumerate(pairs):
        assert np.array_equal(portable, dsp), f"{core}: case {index} ({case['kind']} {case['fields']}) differs"
    assert informative(pairs) >= len(all_cases) - 2, "most cases saturate everywhere: the test would show little"
