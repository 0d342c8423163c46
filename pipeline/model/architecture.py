"""MobileNet v1 as a plain layer list (paper Table 1), shared by the Keras builder and the summary.

Pure Python on purpose: `mnd summary` must not pay for importing TensorFlow.
"""
import math
import re
from dataclasses import dataclass, replace

from mnd.base.errors import UsageError, did_you_mean

ACTIVATIONS = ("relu6", "relu")
FIRST_CONV_CHANNELS = 32
# (depthwise stride, pointwise output channels) for the 13 separable blocks at alpha = 1.
# The paper prints stride 2 for the last depthwise layer, but its output stays 7x7: stride 1.
SEPARABLE_BLOCKS = (
    (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
    (1, 512), (1, 512), (1, 512), (1, 512), (1, 512),
    (2, 1024), (1, 1024),
)
SHALLOW_DROPPED = range(6, 11)  # the five 14x14x512 blocks
NAME_PATTERN = re.compile(r"^mobilenet_v1_(\d{3})_(\d+)(_shallow)?$")
KNOWN_NAMES = [f"mobilenet_v1_{a:03d}_{s}" for a in (25, 50, 75, 100) for s in (32, 96, 128, 160, 192, 224)]


def check_input_and_classes(side: int, channels: int, classes: int) -> None:
    """The limits every family shares: a side of at least 32, 1 or 3 input channels, at least 2 classes."""
    if side < 32:
        raise UsageError(f"input side {side} is too small; use a side of at least 32 pixels")
    if classes < 2:
        raise UsageError(f"{classes} classes cannot be classified; use at least 2")
    if channels not in (1, 3):
        raise UsageError(f"{channels} input channels are not supported; use 1 (grayscale) or 3 (RGB)")


class ImageClassifierShape:
    """What every family's spec shares: `side`, `channels` and `classes` fields, and the batch-1 input shape."""

    @property
    def input_shape(self) -> tuple:
        return (1, self.side, self.side, self.channels)


@dataclass(frozen=True)
class ModelSpec(ImageClassifierShape):
    """Everything that fixes the architecture. `full_conv` is the paper's 'Conv MobileNet' (Table 4)."""

    alpha: float = 1.0
    side: int = 224
    classes: int = 1000
    channels: int = 3
    activation: str = "relu6"
    shallow: bool = False
    full_conv: bool = False

    def __post_init__(self):
        if not 0 < self.alpha <= 1:
            raise UsageError(f"alpha {self.alpha} is out of range; use 0 < alpha <= 1 (e.g. 0.25, 0.5, 0.75, 1.0)")
        if int(FIRST_CONV_CHANNELS * self.alpha) < 1:
            raise UsageError(f"alpha {self.alpha} leaves the first conv with 0 channels; use alpha >= {1 / FIRST_CONV_CHANNELS}")
        check_input_and_classes(self.side, self.channels, self.classes)
        if self.activation not in ACTIVATIONS:
            raise UsageError(f"unknown activation '{self.activation}'{did_you_mean(self.activation, ACTIVATIONS)} (choose from {', '.join(ACTIVATIONS)})")

    @property
    def name(self) -> str:
        return f"mobilenet_v1_{round(self.alpha * 100):03d}_{self.side}" + ("_shallow" if self.shallow else "")

    def to_dict(self) -> dict:
        return {"name": self.name, "alpha": self.alpha, "side": self.side, "classes": self.classes,
                "channels": self.channels, "activation": self.activation, "shallow": self.shallow,
                "full_conv": self.full_conv}


def parse_model_name(name: str, **overrides) -> ModelSpec:
    """'mobilenet_v1_025_96' -> ModelSpec(alpha=0.25, side=96, ...); other fields from overrides."""
    match = NAME_PATTERN.match(name)
    if not match:
        raise UsageError(f"unknown model '{name}'{did_you_mean(name, KNOWN_NAMES)} "
                         "(names look like mobilenet_v1_025_96: alpha x 100, then the input side)")
    alpha, side = int(match.group(1)) / 100, int(match.group(2))
    return ModelSpec(alpha=alpha, side=side, shallow=bool(match.group(3)), **overrides)


@dataclass(frozen=True)
class Layer:
    """One counted layer; `kind` is conv (full 3x3), dw, pw, pool or fc."""

    kind: str
    stride: int
    kernel: int
    in_channels: int
    out_channels: int
    in_side: int
    out_side: int

    @property
    def filter_shape(self) -> str:
        if self.kind == "fc":
            return f"{self.in_channels}x{self.out_channels}"
        return filter_shape(self.kind, self.kernel, self.in_channels, self.out_channels)

    @property
    def mult_adds(self) -> int:
        if self.kind == "pool":
            return 0
        if self.kind == "fc":
            return self.in_channels * self.out_channels
        return conv_weights(self.kind, self.kernel, self.in_channels, self.out_channels) * self.out_side ** 2

    @property
    def params(self) -> int:
        """Weights only (batch norm follows every conv, so convs have no bias); FC counts its bias."""
        if self.kind == "pool":
            return 0
        if self.kind == "fc":
            return self.in_channels * self.out_channels + self.out_channels
        return conv_weights(self.kind, self.kernel, self.in_channels, self.out_channels)


def conv_weights(kind: str, kernel: int, in_channels: int, out_channels: int) -> int:
    """Weights of a convolution, also its mult-adds per output pixel; kind 'dw' is depthwise (one filter a channel)."""
    return kernel * kernel * (1 if kind == "dw" else in_channels) * out_channels


def filter_shape(kind: str, kernel: int, in_channels: int, out_channels: int) -> str:
    """The summary's filter column: KxKxC dw, pool KxK, or KxKxCINxCOUT."""
    if kind == "dw":
        return f"{kernel}x{kernel}x{in_channels} dw"
    if kind == "pool":
        return f"pool {kernel}x{kernel}"
    return f"{kernel}x{kernel}x{in_channels}x{out_channels}"


def same_padding_side(side: int, stride: int) -> int:
    return math.ceil(side / stride)


def layer_plan(spec: ModelSpec) -> list:
    """The counted layers of `spec`, in order; channel counts are int(c * alpha) as Keras computes them."""
    layers = []
    channels = int(FIRST_CONV_CHANNELS * spec.alpha)
    side = same_padding_side(spec.side, 2)
    layers.append(Layer("conv", 2, 3, spec.channels, channels, spec.side, side))
    for index, (stride, out_at_alpha_1) in enumerate(SEPARABLE_BLOCKS):
        if spec.shallow and index in SHALLOW_DROPPED:
            continue
        out_channels = int(out_at_alpha_1 * spec.alpha)
        out_side = same_padding_side(side, stride)
        if spec.full_conv:
            layers.append(Layer("conv", stride, 3, channels, out_channels, side, out_side))
        else:
            layers.append(Layer("dw", stride, 3, channels, channels, side, out_side))
            layers.append(Layer("pw", 1, 1, channels, out_channels, out_side, out_side))
        channels, side = out_channels, out_side
    layers.append(Layer("pool", 1, side, channels, channels, side, 1))
    layers.append(Layer("fc", 1, 1, channels, spec.classes, 1, 1))
    return layers


def with_classes(spec: ModelSpec, classes: int) -> ModelSpec:
    return replace(spec, classes=classes)
