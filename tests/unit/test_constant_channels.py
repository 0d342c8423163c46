"""engine.constant_channels: a channel is reported constant exactly when every input gives it one output."""
import numpy as np

from mnd.engine.constant_channels import constant_outputs, requantize, split_channels


def _every_output(weight: int, bias: int, multiplier: int, shift: int, zero_point: int, low: int, high: int) -> set:
    """The channel's outputs over every int8 input, a one-tap channel (its sum bias + x * weight)."""
    return {requantize(bias + x * weight, multiplier, shift, zero_point, low, high) for x in range(-128, 128)}


def test_one_tap_channels_are_constant_exactly_when_every_input_agrees():
    rng = np.random.default_rng(3)
    channels = 300
    weights = rng.integers(-128, 128, (channels, 1))
    weights[::7] = rng.integers(-2, 3, (len(weights[::7]), 1))  # small weights: many nearly flat channels
    bias = rng.integers(-(1 << 22), 1 << 22, channels)
    multipliers = rng.integers(1 << 30, (1 << 31) - 1, channels)
    shifts = rng.integers(-24, -4, channels)
    zero_point, low, high = -128, -128, 127
    found = constant_outputs(weights, bias, multipliers, shifts, zero_point, low, high)
    for c in range(channels):
        outputs = _every_output(int(weights[c, 0]), int(bias[c]), int(multipliers[c]), int(shifts[c]), zero_point,
                                low, high)
        assert (c in found) == (len(outputs) == 1), c
        if c in found:
            assert outputs == {found[c]}
    assert 10 < len(found) < channels - 10  # both kinds, so the test shows something


def test_a_left_shift_that_could_wrap_is_never_constant():
    # x << 20 wraps for the sums this channel can reach; the kernels' result is then not monotonic in the sum
    weights, bias = np.array([[1, 1]]), np.array([1 << 20])
    assert constant_outputs(weights, bias, [1 << 30], [20], 0, -128, 127) == {}


def test_one_channel_is_always_left_to_sum():
    weights = np.zeros((3, 4), np.int64)
    live, constant = split_channels(weights, np.array([5, 6, 7]), [1 << 30] * 3, [-1] * 3, 0, -128, 127)
    assert live == [0] and sorted(constant) == [1, 2]
