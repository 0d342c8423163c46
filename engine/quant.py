"""Integer kernel parameters derived exactly as TFLite derives them (double precision, then rounded once).

Every function mirrors one TFLite helper, so that the C kernels see the same multipliers, shifts and
activation bounds as LiteRT's reference kernels and TFLite-Micro: QuantizeMultiplier, the per-channel conv
scales, CalculateActivationRangeQuantized, PreprocessSoftmaxScaling / CalculateInputRadius, and MEAN's
folding of 1/count into the multiplier.
"""
import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
# tflite::ActivationFunctionType values (schema) -> real-valued clamp bounds (None: unbounded).
ACTIVATION_BOUNDS = {0: (None, None), 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
SOFTMAX_DIFF_INTEGER_BITS = 5


def _round_half_away(value: float) -> int:
    """std::round: halves go away from zero (Python's round() goes to even)."""
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def quantize_multiplier(real: float) -> tuple:
    """(multiplier, shift) with real == multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)
    fixed = _round_half_away(mantissa * (1 << 31))
    if fixed == 1 << 31:  # the mantissa rounded up to 1.0
        fixed //= 2
        shift += 1
    if shift < -31:  # too small to represent: flush to zero, as TFLite does
        return 0, 0
    return int(fixed), int(shift)


def conv_multipliers(input_scale: float, filter_scales, output_scale: float) -> tuple:
    """Per output channel (multipliers, shifts) for CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED:
    double(input_scale) * double(filter_scale) / double(output_scale), each quantized."""
    pairs = [quantize_multiplier(float(np.float32(input_scale)) * float(np.float32(scale)) /
                                 float(np.float32(output_scale))) for scale in filter_scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


def activation_range(activation: int, scale: float, zero_point: int) -> tuple:
    """(act_min, act_max) for a fused activation on an int8 output; quantizes the bound in float32
    (zero_point + round(float(bound) / float(scale)))."""
    low, high = ACTIVATION_BOUNDS[activation]
    scale32 = np.float32(scale)

    def quantize(value):
        return int(zero_point) + _round_half_away(float(np.float32(value) / scale32))

    act_min = INT8_MIN if low is None else max(INT8_MIN, quantize(low))
    act_max = INT8_MAX if high is None else min(INT8_MAX, quantize(high))
    return act_min, act_max


def softmax_params(beta: float, input_scale: float) -> tuple:
    """(input_multiplier, input_left_shift, diff_min) of the reference int8 SOFTMAX."""
    bits = SOFTMAX_DIFF_INTEGER_BITS
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - bits)), (1 << 31) - 1.0)
    if not real > 1.0:
        raise ValueError(f"softmax beta * input scale * 2^{31 - bits} = {real} must exceed 1")
    multiplier, left_shift = quantize_multiplier(real)
    radius = math.floor(((1 << bits) - 1) * float(1 << (31 - bits)) / float(1 << left_shift))
    return multiplier, left_shift, -int(radius)


def requantize_multiplier(input_scale: float, output_scale: float) -> tuple:
    """(multiplier, shift) for double(input_scale) / double(output_scale): MEAN and QUANTIZE."""
    return quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))


def mean_rescale(multiplier: int, shift: int, count: int) -> tuple:
    """Fold 1/count into (multiplier, shift) as the reference QuantizedMeanOrSum does: by a power of two
    at most count (capped at 32 and at 31 + shift), then integer division by count."""
    bits = max(min(count.bit_length() - 1, 32, 31 + shift), 0)
    return int((multiplier << bits) // count), shift - bits


def same_padding(in_size: int, kernel: int, stride: int, dilation: int, out_size: int) -> int:
    """Padding before the first row/column for SAME (the odd extra goes after the last one)."""
    effective = (kernel - 1) * dilation + 1
    return max((out_size - 1) * stride + effective - in_size, 0) // 2


def output_size(padding_same: bool, in_size: int, kernel: int, stride: int, dilation: int) -> int:
    effective = (kernel - 1) * dilation + 1
    return (in_size + stride - 1) // stride if padding_same else (in_size - effective + stride) // stride


def fold_input_zero_point(bias, weights, input_zero_point: int) -> np.ndarray:
    """bias[c] - input_zero_point * sum(weights[c]) as int32 (wrapping like the kernels' int32 sums), so that
    sum((x - zp) * w) + bias == sum(x * w) + folded bias. weights: [channels][taps]; bias None means zeros."""
    weights = np.asarray(weights, np.int64).reshape(len(weights), -1)
    base = np.zeros(len(weights), np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1)
    folded = base - int(input_zero_point) * weights.sum(axis=1)
    return ((folded + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


ADD_LEFT_SHIFT = 20  # the reference int8 ADD's headroom shift


def add_params(input1_scale: float, input2_scale: float, output_scale: float) -> dict:
    """The reference int8 ADD's multipliers: both inputs brought to 2 * max(scale) (in double, from the float32
    scales), then the sum to the output scale over 2^ADD_LEFT_SHIFT."""
    s1, s2, out = (float(np.float32(s)) for s in (input1_scale, input2_scale, output_scale))
    twice_max = 2.0 * max(s1, s2)
    (m1, sh1), (m2, sh2) = quantize_multiplier(s1 / twice_max), quantize_multiplier(s2 / twice_max)
    m_out, sh_out = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * out))
    return {"left_shift": ADD_LEFT_SHIFT, "input1_multiplier": m1, "input1_shift": sh1, "input2_multiplier": m2,
            "input2_shift": sh2, "output_multiplier": m_out, "output_shift": sh_out}


def mul_multiplier(input1_scale: float, input2_scale: float, output_scale: float) -> tuple:
    """(multiplier, shift) of the reference int8 MUL: input1_scale * input2_scale / output_scale computed in
    float32 (TFLite multiplies and divides the float scales before widening to double)."""
    real = np.float32(np.float32(input1_scale) * np.float32(input2_scale)) / np.float32(output_scale)
    return quantize_multiplier(float(np.float32(real)))


def _int16_multiplier(multiplier: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier: round a Q31 multiplier to Q15, saturating."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


def hard_swish_params(input_scale: float, output_scale: float) -> dict:
    """The reference int8 HARD_SWISH's 16-bit multipliers and exponents, derived in float32 as TFLite does:
    the input on a 2^7 finer scale, rescaled to the output and to the 'reluish' scale where 3.0 is 2^15."""
    hires = np.float32(np.float32(1.0 / 128.0) * np.float32(input_scale))
    out_m, out_e = quantize_multiplier(float(np.float32(hires / np.float32(output_scale))))
    relu_m, relu_e = quantize_multiplier(float(np.float32(hires / np.float32(3.0 / 32768.0))))
    return {"output_multiplier": _int16_multiplier(out_m), "output_exponent": out_e,
            "reluish_multiplier": _int16_multiplier(relu_m), "reluish_exponent": relu_e}
