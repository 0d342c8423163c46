"""Weight layouts and scratch sizes for the MVE (Helium) kernels (kernels/kernels_*_mve.c), rearranged ahead of time.

The GEMM kernels (pointwise and im2col convolution) read each filter as TFLite stores it, one contiguous row of
depth int8 per output channel; the depthwise kernel reads one channel's nine taps. Scratch sizes are the kernels'
needs in the arena, in bytes (multiples of 16)."""
import numpy as np

CHANNEL_REQUANT_BYTES = 20  # multiplier, left and right shift, rounding fix, bias: five int32 per channel
VECTOR_BYTES = 16


def _round_up(size: int, to: int = VECTOR_BYTES) -> int:
    return (size + to - 1) // to * to


def gemm_mve(weights: np.ndarray) -> np.ndarray:
    """[out_c][depth] as it is, then one vector of zeros: the kernels load 16 depth values of a filter at a time,
    unpredicated where the depth is at most 16."""
    return np.concatenate([np.asarray(weights, np.int8).reshape(-1), np.zeros(VECTOR_BYTES, np.int8)])


def pairs_fit(depth: int, out_c: int) -> bool:
    """Whether the GEMM kernels' fast path takes filters of this (padded) depth, its weights in pairs: whole vectors
    from 32 deep and an even out_c (kernels_conv_mve.c: pointwise_pairs_fit, and im2col beyond 16 deep)."""
    return depth % VECTOR_BYTES == 0 and depth >= 2 * VECTOR_BYTES and out_c % 2 == 0


def _in_pairs(weights: np.ndarray) -> np.ndarray:
    """[out_c][depth] -> per pair of filters, their 16-byte pieces alternating: [out_c / 2][depth / 16][2][16]."""
    out_c, depth = weights.shape
    return weights.reshape(out_c // 2, 2, depth // VECTOR_BYTES, VECTOR_BYTES).transpose(0, 2, 1, 3)


def pointwise_mve(weights: np.ndarray) -> np.ndarray:
    """gemm_mve, or where pairs_fit, the filters in pairs (then one vector of zeros all the same)."""
    weights = np.asarray(weights, np.int8)
    return gemm_mve(_in_pairs(weights) if pairs_fit(*weights.shape[::-1]) else weights)


def im2col_mve(weights: np.ndarray) -> np.ndarray:
    """gemm_mve, but beyond 16 deep each filter padded with zeros to whole vectors, as the im2col rows are, and then
    in pairs where pairs_fit."""
    weights = np.asarray(weights, np.int8)
    out_c, depth = weights.shape
    if depth <= VECTOR_BYTES:
        return gemm_mve(weights)
    padded = np.zeros((out_c, _round_up(depth)), np.int8)
    padded[:, :depth] = weights
    return pointwise_mve(padded)


def pointwise_mve_scratch(out_c: int) -> int:
    return _round_up(CHANNEL_REQUANT_BYTES * out_c)


def im2col_mve_scratch(depth: int, out_c: int) -> int:
    """The requantization table, then four im2col rows of `depth` bytes, each rounded up to a vector, and one vector
    that the last row's copy may write past it."""
    return _round_up(CHANNEL_REQUANT_BYTES * out_c) + 4 * _round_up(depth) + VECTOR_BYTES


def depthwise_mve(weights: np.ndarray) -> np.ndarray:
    """[channels][9 taps] as it is: the kernel takes one channel at a time, its nine weights as scalars."""
    return np.ascontiguousarray(weights, np.int8).reshape(-1)


BAND_SUMS = 128  # kernels_depthwise_plane_mve.c: the depthwise kernel sums a band of max(1, BAND_SUMS // pitch) output rows at once


def depthwise_mve_scratch(in_h: int, in_w: int, out_h: int, out_w: int, stride_h: int, stride_w: int) -> int:
    """One channel's zero-point-padded plane (stride_h x stride_w sub-planes of out_h + 2 // stride_h rows of
    out_w + 2 // stride_w bytes, and 4 bytes the last block reads past them), an int32 sum per flat output of a band,
    a 16-bit place in the plane per input pixel, then where a band's outputs go; as kernels_depthwise_plane_mve.c's
    plane_shape_of."""
    rows, pitch = out_h + 2 // stride_h, out_w + 2 // stride_w
    plane = _round_up(stride_h * stride_w * rows * pitch + 4)
    band = min(max(1, BAND_SUMS // pitch), out_h)
    band_table = 20 * ((band * pitch + 3) // 4)  # per four outputs of a band: four offsets and a predicate
    return _round_up(plane + 4 * _round_up(band * pitch, 4) + _round_up(2 * in_h * in_w, 4) + band_table)


def depthwise_mve_fits(in_c: int, stride_w: int, plane_bytes: int) -> bool:
    """The plane's gathers reach 7 input columns ahead, and its places are, 16-bit byte offsets."""
    return 7 * stride_w * in_c < 1 << 16 and plane_bytes < 1 << 16


def depthwise_small_mve(weights: np.ndarray) -> np.ndarray:
    """[channels][taps] -> per group of four channels [taps][4 channels], the last group padded with zeros (the small
    3x3 kernel's and the 5x5 one's)."""
    channels, taps = weights.shape
    groups = (channels + 3) // 4
    padded = np.zeros((groups * 4, taps), np.int8)
    padded[:channels] = weights
    return padded.reshape(groups, 4, taps).transpose(0, 2, 1).reshape(-1)


def depthwise_small_mve_scratch(channels: int, taps: int = 9) -> int:
    """Four channels' requantization as five int32x4 per group, then four KxK patches of `channels` bytes a tap."""
    return 4 * CHANNEL_REQUANT_BYTES * ((channels + 3) // 4) + 4 * _round_up(taps * channels)


def depthwise_plane_pays(out_w: int, stride_w: int, channels: int) -> bool:
    """Whether the plane kernel beats the small-image one (instructions measured on MobileNetV1 and VWW layers under
    QEMU): rows of 6 or more, but where the small kernel runs its per-pixel loop over groups of four channels (a
    multiple of 4, from 32), only stride 1 and rows of 7 or more."""
    if channels % 4 == 0 and channels >= 32:
        return stride_w == 1 and out_w >= 7
    return out_w >= 6
