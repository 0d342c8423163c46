"""MobileNet V2 and V3 (Small, Large, minimalistic) as plain layer lists, shared by the Keras builder and the summary.

The plans follow Keras Applications' MobileNetV2 / MobileNetV3Small / MobileNetV3Large, which is what users import:
channel counts rounded by `make_divisible` (multiples of 8, never below 8 nor 10% under the target), V2's last
1x1 conv kept at 1280 for alpha < 1 and multiplied for alpha > 1, V3's head conv multiplied only for alpha > 1.
Pure Python on purpose: `mnd summary` must not pay for importing TensorFlow.
"""
from dataclasses import dataclass, replace

from mnd.base.errors import UsageError
from mnd.pipeline.model.architecture import (ImageClassifierShape, check_input_and_classes, conv_weights,
                                              filter_shape, same_padding_side)

FAMILIES = ("v2", "v3_small", "v3_large")
MAX_ALPHA = 2.0

# V2 (paper Table 2): (expansion t, output channels c at alpha 1, repeats n, first stride s). Every depthwise 3x3.
V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
V2_STEM, V2_LAST = 32, 1280


@dataclass(frozen=True)
class V3Block:
    """One V3 bottleneck: expansion as Keras writes it (a ratio of the block's input channels), output channels at
    alpha 1, depthwise kernel, stride, squeeze-and-excite, and 'relu' or 'hard_swish' (relu when minimalistic)."""

    expansion: float
    out: int
    kernel: int
    stride: int
    se: bool
    activation: str


def _v3(*rows) -> tuple:
    return tuple(V3Block(*row) for row in rows)


HS = "hard_swish"
V3_SMALL = _v3((1, 16, 3, 2, True, "relu"), (72 / 16, 24, 3, 2, False, "relu"), (88 / 24, 24, 3, 1, False, "relu"),
               (4, 40, 5, 2, True, HS), (6, 40, 5, 1, True, HS), (6, 40, 5, 1, True, HS),
               (3, 48, 5, 1, True, HS), (3, 48, 5, 1, True, HS),
               (6, 96, 5, 2, True, HS), (6, 96, 5, 1, True, HS), (6, 96, 5, 1, True, HS))
V3_LARGE = _v3((1, 16, 3, 1, False, "relu"), (4, 24, 3, 2, False, "relu"), (3, 24, 3, 1, False, "relu"),
               (3, 40, 5, 2, True, "relu"), (3, 40, 5, 1, True, "relu"), (3, 40, 5, 1, True, "relu"),
               (6, 80, 3, 2, False, HS), (2.5, 80, 3, 1, False, HS), (2.3, 80, 3, 1, False, HS),
               (2.3, 80, 3, 1, False, HS), (6, 112, 3, 1, True, HS), (6, 112, 3, 1, True, HS),
               (6, 160, 5, 2, True, HS), (6, 160, 5, 1, True, HS), (6, 160, 5, 1, True, HS))
V3_BLOCKS = {"v3_small": V3_SMALL, "v3_large": V3_LARGE}
V3_STEM = 16
V3_HEAD = {"v3_small": 1024, "v3_large": 1280}  # the 1x1 conv (with bias) after global pooling
V3_LAST_EXPANSION = 6  # the last 1x1 conv before pooling: 6 x the last block's channels
SE_RATIO = 0.25


def make_divisible(value: float, divisor: int = 8) -> int:
    """The reference rounding: nearest multiple of `divisor`, at least `divisor`, and never 10% below `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class InvertedResidualSpec(ImageClassifierShape):
    """Everything that fixes a V2 or V3 architecture; the V3 'minimalistic' variant has no squeeze-and-excite,
    relu instead of hard-swish and 3x3 depthwise kernels only."""

    family: str = "v2"
    alpha: float = 1.0
    side: int = 224
    classes: int = 1000
    channels: int = 3
    minimalistic: bool = False

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise UsageError(f"unknown family '{self.family}' (choose from {', '.join(FAMILIES)})")
        if not 0 < self.alpha <= MAX_ALPHA:
            raise UsageError(f"alpha {self.alpha} is out of range; use 0 < alpha <= {MAX_ALPHA:g} (e.g. 0.35, 0.75, "
                             "1.0, 1.4)")
        check_input_and_classes(self.side, self.channels, self.classes)
        if self.minimalistic and self.family == "v2":
            raise UsageError("MobileNet V2 has no minimalistic variant; it is a V3 option (mobilenet_v3_small_..."
                             "_minimalistic)")

    @property
    def name(self) -> str:
        return (f"mobilenet_{self.family}_{round(self.alpha * 100):03d}_{self.side}"
                + ("_minimalistic" if self.minimalistic else ""))

    @property
    def activation(self) -> str:
        """The architecture's main activation (V2: relu6; V3: hard-swish, or relu when minimalistic)."""
        if self.family == "v2":
            return "relu6"
        return "relu" if self.minimalistic else HS

    def to_dict(self) -> dict:
        return {"name": self.name, "family": self.family, "alpha": self.alpha, "side": self.side,
                "classes": self.classes, "channels": self.channels, "activation": self.activation,
                "minimalistic": self.minimalistic}


@dataclass(frozen=True)
class Layer:
    """One counted layer. `kind`: conv (the stem), expand, dw, project, se_reduce, se_expand (1x1 convs on the
    pooled vector, with bias), last (1x1 conv before pooling), pool, head (V3's 1x1 conv after pooling, with bias)
    or fc (the classifier). `block` numbers the bottleneck a layer belongs to (None outside the blocks)."""

    kind: str
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    in_side: int
    out_side: int
    activation: str | None
    bias: bool = False
    block: int | None = None

    @property
    def mult_adds(self) -> int:
        if self.kind == "pool":
            return 0
        return conv_weights(self.kind, self.kernel, self.in_channels, self.out_channels) * self.out_side ** 2

    @property
    def params(self) -> int:
        """Weights plus biases where the layer has them; batch norm is not counted (see inverted_residual_summary)."""
        if self.kind == "pool":
            return 0
        weights = conv_weights(self.kind, self.kernel, self.in_channels, self.out_channels)
        return weights + (self.out_channels if self.bias else 0)

    @property
    def filter_shape(self) -> str:
        return filter_shape(self.kind, self.kernel, self.in_channels, self.out_channels)


@dataclass(frozen=True)
class BlockPlan:
    """A bottleneck's settings as built (after rounding and the minimalistic rule) and its layers in order."""

    index: int
    expansion: float
    kernel: int
    stride: int
    se: bool
    activation: str
    residual: bool
    layers: tuple


def _bottleneck(index: int, in_channels: int, side: int, expanded: int, out: int, kernel: int, stride: int,
                se: bool, activation: str, expand: bool) -> BlockPlan:
    out_side = same_padding_side(side, stride)
    layers = []
    if expand:
        layers.append(Layer("expand", 1, 1, in_channels, expanded, side, side, activation, block=index))
    layers.append(Layer("dw", kernel, stride, expanded, expanded, side, out_side, activation, block=index))
    if se:
        squeezed = make_divisible(expanded * SE_RATIO)
        layers.append(Layer("se_reduce", 1, 1, expanded, squeezed, 1, 1, "relu", True, index))
        layers.append(Layer("se_expand", 1, 1, squeezed, expanded, 1, 1, "hard_sigmoid", True, index))
    layers.append(Layer("project", 1, 1, expanded, out, out_side, out_side, None, block=index))
    return BlockPlan(index, expanded / in_channels, kernel, stride, se, activation,
                     stride == 1 and in_channels == out, tuple(layers))


def _v2_blocks(spec: InvertedResidualSpec, channels: int, side: int) -> list:
    blocks = []
    for expansion, out_at_1, repeats, first_stride in V2_STAGES:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            out = make_divisible(int(out_at_1 * spec.alpha))
            block = _bottleneck(len(blocks), channels, side, expansion * channels, out, 3, stride, False, "relu6",
                                expand=bool(blocks))
            blocks.append(block)
            channels, side = out, same_padding_side(side, stride)
    return blocks


def _v3_blocks(spec: InvertedResidualSpec, channels: int, side: int) -> list:
    blocks = []
    for row in V3_BLOCKS[spec.family]:
        kernel = 3 if spec.minimalistic else row.kernel
        activation = "relu" if spec.minimalistic else row.activation
        out = make_divisible(row.out * spec.alpha)
        expanded = make_divisible(channels * row.expansion)
        block = _bottleneck(len(blocks), channels, side, expanded, out, kernel, row.stride,
                            row.se and not spec.minimalistic, activation, expand=bool(blocks))
        blocks.append(block)
        channels, side = out, same_padding_side(side, row.stride)
    return blocks


@dataclass(frozen=True)
class Plan:
    """The stem, the bottlenecks, and the tail (last 1x1 conv, pooling, V3's head conv, classifier)."""

    spec: InvertedResidualSpec
    stem: Layer
    blocks: tuple
    tail: tuple

    @property
    def layers(self) -> list:
        return [self.stem, *(layer for block in self.blocks for layer in block.layers), *self.tail]


def layer_plan(spec: InvertedResidualSpec) -> Plan:
    """The counted layers of `spec`, grouped as Keras Applications builds them."""
    side = same_padding_side(spec.side, 2)
    if spec.family == "v2":
        stem_channels = make_divisible(V2_STEM * spec.alpha)
        stem = Layer("conv", 3, 2, spec.channels, stem_channels, spec.side, side, "relu6")
        blocks = _v2_blocks(spec, stem_channels, side)
        last = make_divisible(V2_LAST * spec.alpha) if spec.alpha > 1 else V2_LAST
        last_activation = "relu6"
    else:
        stem = Layer("conv", 3, 2, spec.channels, V3_STEM, spec.side, side, spec.activation)
        blocks = _v3_blocks(spec, V3_STEM, side)
        last = make_divisible(blocks[-1].layers[-1].out_channels * V3_LAST_EXPANSION)
        last_activation = spec.activation
    channels, side = blocks[-1].layers[-1].out_channels, blocks[-1].layers[-1].out_side
    tail = [Layer("last", 1, 1, channels, last, side, side, last_activation),
            Layer("pool", side, 1, last, last, side, 1, None)]
    if spec.family != "v2":
        head = V3_HEAD[spec.family]
        head = make_divisible(head * spec.alpha) if spec.alpha > 1 else head
        tail.append(Layer("head", 1, 1, last, head, 1, 1, spec.activation, bias=True))
        last = head
    tail.append(Layer("fc", 1, 1, last, spec.classes, 1, 1, "softmax", bias=True))
    return Plan(spec, stem, tuple(blocks), tuple(tail))


def with_classes(spec: InvertedResidualSpec, classes: int) -> InvertedResidualSpec:
    return replace(spec, classes=classes)
