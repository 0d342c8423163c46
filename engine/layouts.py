"""Weight layouts for the DSP kernels (kernels/kernels_conv_dsp.c, kernels_depthwise_dsp.c), rearranged ahead of time, still int8.

Both kernels read weights a word (four int8) at a time and widen its even and odd bytes with SXTB16, so each
layout puts in one word the four weights that meet one input word. Scratch sizes are the kernels' needs in the
arena, in bytes (a multiple of 4)."""
import numpy as np

REQUANT_ENTRY_BYTES = 24  # the kernels' per-channel requantization table (bias included): six int32


def _aligned4(size: int) -> int:
    return (size + 3) // 4 * 4


def pointwise_dsp(weights: np.ndarray) -> np.ndarray:
    """[out_c][in_c] -> channel pairs, each [ceil(in_c / 4) groups][2 channels][4 bytes]; the depth padded with
    zeros to whole groups and an odd last channel paired with zeros."""
    out_c, in_c = weights.shape
    groups = (in_c + 3) // 4
    padded = np.zeros(((out_c + 1) // 2 * 2, groups * 4), np.int8)
    padded[:out_c, :in_c] = weights
    return padded.reshape(-1, 2, groups, 4).transpose(0, 2, 1, 3).reshape(-1)


def gemm_w16(weights: np.ndarray) -> np.ndarray:
    """pointwise_dsp's layout widened to int16 lanes, as bytes: each channel's word becomes its even bytes (0, 2)
    then its odd bytes (1, 3)."""
    words = pointwise_dsp(weights).reshape(-1, 4)[:, [0, 2, 1, 3]]
    return words.reshape(-1).astype("<i2").view(np.int8)


def _channel_pairs(out_c: int) -> int:
    return (out_c + 1) // 2 * 2


GEMM_TILE_PIXELS = 3  # the pixels whose int16 lanes (8 bytes per 4-byte group) the GEMM kernels hold at once


def _table_bytes(out_c: int) -> int:
    """The GEMM kernels' requantization table and channel order (uint16)."""
    return (REQUANT_ENTRY_BYTES + 2) * _channel_pairs(out_c)


def pointwise_dsp_scratch(in_c: int, out_c: int) -> int:
    return _table_bytes(out_c) + 8 * GEMM_TILE_PIXELS * ((in_c + 3) // 4)


def widened_bytes(in_c: int, out_c: int) -> int:
    """mnd_pointwise_widen_dsp_s8's weights widened to int16 in scratch."""
    return 8 * _channel_pairs(out_c) * ((in_c + 3) // 4)


def conv_dsp_scratch(depth: int, out_c: int) -> int:
    """mnd_conv_dsp_s8 on `depth` = k_h * k_w * in_c: the table, the lanes and GEMM_TILE_PIXELS gathered windows."""
    groups = (depth + 3) // 4
    return _table_bytes(out_c) + 8 * GEMM_TILE_PIXELS * groups + 4 * GEMM_TILE_PIXELS * groups


def depthwise_dsp(weights: np.ndarray) -> np.ndarray:
    """[channels][K * K taps] -> int16 lanes as bytes: per group of four channels (the last padded with zeros)
    [taps][channels 0, 2, 1, 3], each weight doubled (-256..254): the kernel's sums come out doubled, as its
    rounding multiply takes them."""
    channels, taps = weights.shape
    padded = np.zeros(((channels + 3) // 4 * 4, taps), np.int16)
    padded[:channels] = np.asarray(weights, np.int16) * 2
    lanes = padded.reshape(-1, 4, taps)[:, [0, 2, 1, 3], :].transpose(0, 2, 1).reshape(-1).astype("<i2")
    return lanes.view(np.int8)


def depthwise_dsp_scratch(channels: int, out_w: int, stride_w: int, kernel: int = 3) -> int:
    """The requantization table and `kernel` input rows widened to int16 lanes, padded to every column a window
    reads."""
    groups = (channels + 3) // 4
    width = (out_w - 1) * stride_w + kernel
    return REQUANT_ENTRY_BYTES * 4 * groups + kernel * groups * width * 8
