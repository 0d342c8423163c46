"""Weight layouts and scratch sizes for the MVE (Helium) kernels (kernels/kernels_mve.c), rearranged ahead of time.

The GEMM kernels (pointwise and im2col convolution) read each filter as TFLite stores it, one contiguous row of
depth int8 per output channel; the depthwise kernel reads four channels' weights for one tap as one word. Scratch
sizes are the kernels' needs in the arena, in bytes (multiples of 16)."""
import numpy as np

CHANNEL_REQUANT_BYTES = 20  # multiplier, left and right shift, rounding fix, bias: five int32 per channel
GROUP_REQUANT_BYTES = 4 * CHANNEL_REQUANT_BYTES  # the same for four channels, as five int32x4 vectors
VECTOR_BYTES = 16


def _round_up(size: int, to: int = VECTOR_BYTES) -> int:
    return (size + to - 1) // to * to


def gemm_mve(weights: np.ndarray) -> np.ndarray:
    """[out_c][depth] as it is, then one vector of zeros: the kernels load 16 depth values of a filter at a time,
    unpredicated where the depth is at most 16."""
    return np.concatenate([np.asarray(weights, np.int8).reshape(-1), np.zeros(VECTOR_BYTES, np.int8)])


def pointwise_mve_scratch(out_c: int) -> int:
    return _round_up(CHANNEL_REQUANT_BYTES * out_c)


def im2col_mve_scratch(depth: int, out_c: int) -> int:
    """The requantization table, then four im2col rows of `depth` bytes, each rounded up to a vector."""
    return _round_up(CHANNEL_REQUANT_BYTES * out_c) + 4 * _round_up(depth)


def depthwise_mve(weights: np.ndarray) -> np.ndarray:
    """[channels][9 taps] -> per group of four channels [9 taps][4 channels], the last group padded with zeros."""
    channels = len(weights)
    groups = (channels + 3) // 4
    padded = np.zeros((groups * 4, 9), np.int8)
    padded[:channels] = weights
    return padded.reshape(groups, 4, 9).transpose(0, 2, 1).reshape(-1)


def depthwise_mve_scratch(channels: int) -> int:
    """The per-group requantization table, then four 3x3 patches of `channels` bytes per tap."""
    return GROUP_REQUANT_BYTES * ((channels + 3) // 4) + 4 * _round_up(9 * channels)
