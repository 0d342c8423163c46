"""Output channels of a convolution that are one value for every input (a dead channel: a bias so large, or
weights so small, that the requantized sum saturates or rounds to the same int8 whatever the input).

The kernels sum x * w over the channel's taps plus its folded bias (quant.fold_input_zero_point), every x an int8
(padding reads as the input zero point, an int8 too), so the sum lies between the bias plus the sum of each
weight's smallest product and the bias plus the sum of its largest. The requantization (mnd_requantize, then the
output zero point and the clamp) never decreases as the sum grows, while the left shift cannot wrap; where both
ends of that range give the same int8, so does every sum inside it. The DSP kernels skip such channels' sums
and store the value."""
import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _doubling_high_mul(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    return (a * b + (1 << 30)) >> 31


def _rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def requantize(acc: int, multiplier: int, shift: int, zero_point: int, act_min: int, act_max: int) -> int:
    """kernels.h's mnd_requantize plus the zero point and clamp, for an acc whose left shift stays in int32."""
    left, right = max(shift, 0), max(-shift, 0)
    value = _rounding_divide_by_pot(_doubling_high_mul(acc << left, multiplier), right) + zero_point
    return min(max(value, act_min), act_max)


def constant_outputs(weights: np.ndarray, bias: np.ndarray, multipliers, shifts, zero_point: int, act_min: int,
                     act_max: int) -> dict:
    """{channel: its int8 output} for each channel whose output does not depend on the input. weights:
    [channels][taps] int8; bias: the folded int32 biases (None: zeros)."""
    w = np.asarray(weights, np.int64).reshape(len(weights), -1)
    lowest = np.minimum(w * -128, w * 127).sum(axis=1)
    highest = np.maximum(w * -128, w * 127).sum(axis=1)
    constant = {}
    for c in range(len(w)):
        base = 0 if bias is None else int(bias[c])
        low, high = base + int(lowest[c]), base + int(highest[c])
        multiplier, shift = int(multipliers[c]), int(shifts[c])
        left = max(shift, 0)
        if multiplier < 0 or low < INT32_MIN or high > INT32_MAX or not \
                INT32_MIN <= low * (1 << left) <= high * (1 << left) <= INT32_MAX:
            continue
        ends = {requantize(acc, multiplier, shift, zero_point, act_min, act_max) for acc in (low, high)}
        if len(ends) == 1:
            constant[c] = ends.pop()
    return constant


def split_channels(weights: np.ndarray, bias, multipliers, shifts, zero_point: int, act_min: int,
                   act_max: int) -> tuple:
    """(the channels a kernel sums, in order; {channel: value} of the constant others), one channel at least
    summed."""
    constant = constant_outputs(weights, bias, multipliers, shifts, zero_point, act_min, act_max)
    if len(constant) == len(weights):
        constant.pop(0)
    return [c for c in range(len(weights)) if c not in constant], constant


def params_arrays(prefix: str, live: list, constant: dict) -> tuple:
    """(C arrays, mnd_conv_params fields) telling the DSP kernels of the constant channels (none: nothing)."""
    from mnd.engine.op_base import _array

    if not constant:
        return [], {}
    arrays = [_array(f"{prefix}channel_index", "uint16_t", live + sorted(constant)),
              _array(f"{prefix}constant_value", "int8_t", [constant[c] for c in sorted(constant)])]
    return arrays, {"constant_c": len(constant), "channel_index": f"{prefix}channel_index",
                    "constant_value": f"{prefix}constant_value"}
