"""Weights quantized and dequantized in numpy the way the TFLite converter quantizes them: symmetric int8,
scale = max|w| / 127 per output channel ("per-channel") or over the whole tensor ("per-tensor"), rounding half
away from zero, values clamped to [-127, 127].
"""
import numpy as np
from keras import layers as kl

from mnd.base.errors import UsageError, did_you_mean

GRANULARITIES = ("per-channel", "per-tensor")


def check_granularity(weights: str) -> None:
    if weights not in GRANULARITIES:
        raise UsageError(f"weight quantization '{weights}' is unknown; choose {' or '.join(GRANULARITIES)}"
                         f"{did_you_mean(weights, GRANULARITIES)}")


def reduced_axes(layer_cls: type, kernel: np.ndarray, weights: str) -> tuple:
    """The kernel axes one scale spans. A depthwise kernel (kh, kw, c, multiplier) has an output channel per
    (c, multiplier) pair, which TFLite lays out as its last axis c * multiplier."""
    check_granularity(weights)
    if weights == "per-tensor":
        return tuple(range(kernel.ndim))
    if layer_cls is kl.DepthwiseConv2D:
        return (0, 1)
    return tuple(range(kernel.ndim - 1))


def fake_quantized(kernel: np.ndarray, axes: tuple) -> np.ndarray:
    """`kernel` after int8 quantization and dequantization, one scale per slice over `axes`."""
    kernel = np.asarray(kernel, dtype=np.float64)
    scale = np.max(np.abs(kernel), axis=axes, keepdims=True) / 127.0
    safe = np.where(scale > 0, scale, 1.0)
    scaled = kernel / safe
    levels = np.clip(np.sign(scaled) * np.floor(np.abs(scaled) + 0.5), -127, 127)
    return levels * safe
