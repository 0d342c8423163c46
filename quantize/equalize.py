"""Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization") of DepthwiseConv2D -> activation ->
Conv2D pairs: depthwise output channel i (kernel and bias) is divided by s_i and the Conv2D weights reading
channel i are multiplied by s_i, s_i = sqrt(r1_i / r2_i), which leaves both ranges at sqrt(r1_i r2_i) (r1_i: max|w| of
depthwise channel i, r2_i: max|w| of the Conv2D weights reading it). relu(x / s) = relu(x) / s for s > 0, so the float
model computes the same function.

A clipped ReLU (ReLU6, ReLU with max_value) commutes with the rescale only where the clip never binds. Its pair is
equalized, and the activation becomes a plain ReLU, when the depthwise output never exceeds the clip on the
calibration inputs. Where it binds, only the channels that stay below the clip before and after the rescale are
equalized and the clipped activation stays with partial=True; by default the pair is left as it is. Both are exact
on the calibration inputs only. Each Conv2D reads a single depthwise layer and no layer is in two pairs, so one pass is
already the fixed point of the iterated algorithm. Pairs must be chains (see equalize()); the others are reported as
skipped, with the layers that also read the tensor.
"""
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers as kl

from mnd.quantize.graph import OUTPUT, LayerSpec, model_graph, spec_of

BATCH = 32
EQUALIZED = "equalized"
RELU6_TO_RELU = "equalized, clipped ReLU replaced by ReLU (the clip never binds on the calibration inputs)"
PARTIAL = "equalized only the channels whose clip never binds on the calibration inputs, clipped ReLU kept"
CLIP_BINDS = "skipped: the activation's clip binds on the calibration inputs"
NO_CALIBRATION = "skipped: clipped activation and no calibration inputs to check it against"
NOT_A_CHAIN = "skipped: not a chain"
NOT_RELU_LIKE = "skipped: the activation is not ReLU-like (rescaling does not commute with it)"


@dataclass
class PairRecord:
    depthwise: str
    activation: str
    pointwise: str
    action: str
    clip: float | None = None
    clipped_fraction: float | None = None  # share of depthwise outputs above the clip on the calibration inputs
    channels: int = 0
    rescaled_channels: int = 0  # channels with s_i != 1
    spread_before: float | None = None  # max / min of max|w| over depthwise output channels (see spread())
    spread_after: float | None = None

    def line(self) -> str:
        text = f"{self.depthwise} -> {self.activation} -> {self.pointwise}: {self.action}"
        if self.action in (CLIP_BINDS, PARTIAL):
            text += f" ({self.clipped_fraction:.2%} of outputs above {self.clip:g})"
        if self.spread_after is not None:
            text += (f"; {self.rescaled_channels} of {self.channels} channels rescaled, depthwise weight-range "
                     f"spread {self.spread_before:.1f} -> {self.spread_after:.1f}")
        return text


@dataclass
class ClipUsage:
    fraction: float  # share of the depthwise outputs above the clip
    channel_max: np.ndarray  # per depthwise output channel, over the calibration inputs


def equalize(model, calibration_inputs: np.ndarray | None = None, *, partial: bool = False) -> tuple:
    """(equalized copy of `model`, [PairRecord] in model order). `calibration_inputs`: float model inputs
    [N, H, W, C], needed only for clipped activations. `partial`: where a clip binds, still equalize the channels
    whose clip binds neither before nor after the rescale (s_i >= max_i / clip), keeping the clipped activation; by
    default such pairs are skipped. A pair is a chain or it is skipped: the depthwise output read only by the
    activation, the activation's output read only by the Conv2D (V2's and V3's residual ADDs and V3's
    squeeze-and-excite read a block's tensors twice; rescaling one reader would change what the other reads)."""
    graph = model_graph(model)
    pairs = candidate_pairs(graph)
    clipped = [pair for pair in pairs if pair[3] is None and activation_clip(graph.layers[pair[1]]) is not None]
    usage = clip_usage(model, [graph.layers[pair[0]] for pair in clipped],
                       [activation_clip(graph.layers[pair[1]]) for pair in clipped], calibration_inputs)
    specs = {}
    records = [equalized_pair(graph, specs, pair, usage, partial) for pair in pairs]
    return (graph.rebuild(specs) if specs else model), records


def candidate_pairs(graph) -> list:
    """(depthwise, activation, reader, reason skipped or None) for every linear channels-last DepthwiseConv2D read
    only by an activation: reader is the Conv2D reading that activation (for a skipped pair whose activation no
    Conv2D reads, the first layer that does); reason says why a pair is not equalized."""
    pairs = []
    for name in graph.order:
        activation = graph.only_consumer(name)
        if not is_linear_depthwise(graph.layers[name]) or activation is None \
                or not is_activation(graph.layers[activation]):
            continue
        readers = graph.consumers[activation]
        convs = [reader for reader in readers if reader != OUTPUT and is_plain_conv(graph.layers[reader])]
        reason = None
        if len(readers) > 1 or not convs:
            reason = f"{NOT_A_CHAIN}: '{activation}' is read by {', '.join(repr(reader) for reader in readers)}"
        elif not is_relu_like(graph.layers[activation]):
            reason = NOT_RELU_LIKE
        pairs.append((name, activation, (convs or readers)[0], reason))
    return pairs


def equalized_pair(graph, specs: dict, pair: tuple, usage: dict, partial: bool) -> PairRecord:
    """Rescales the depthwise and pointwise layers into `specs` (name -> LayerSpec), as far as exactness allows."""
    depthwise, activation, pointwise, reason = pair
    clip = activation_clip(graph.layers[activation]) if reason is None else None
    record = PairRecord(depthwise, activation, pointwise, reason or EQUALIZED, clip)
    if reason is not None:
        return record
    first, second = spec_of(graph.layers[depthwise]), spec_of(graph.layers[pointwise])
    scale = equalizing_scale(channel_ranges(first.weights[0]), np.max(np.abs(second.weights[0]), axis=(0, 1, 3)))
    if clip is not None:
        if depthwise not in usage:
            record.action = NO_CALIBRATION
            return record
        record.clipped_fraction = usage[depthwise].fraction
        if record.clipped_fraction == 0:
            record.action = RELU6_TO_RELU
            specs[activation] = LayerSpec(type(graph.layers[activation]), unclipped_config(graph.layers[activation]),
                                          [])
        elif partial:
            record.action = PARTIAL
            scale = clip_safe_scale(scale, usage[depthwise].channel_max, clip)
        else:
            record.action = CLIP_BINDS
            return record
    record.channels, record.rescaled_channels = scale.size, int(np.count_nonzero(scale != 1.0))
    record.spread_before = spread(first.weights[0])
    first.weights, second.weights = rescaled(first.weights, second.weights, scale)
    specs[depthwise], specs[pointwise] = first, second
    record.spread_after = spread(first.weights[0])
    return record


def clip_safe_scale(scale: np.ndarray, channel_max: np.ndarray, clip: float) -> np.ndarray:
    """s_i where clip(x / s_i) * s_i = clip(x) for every calibration x: 1 where channel i exceeds the clip, else at
    least max_i / clip so that the rescaled channel stays below it."""
    return np.where(channel_max > clip, 1.0, np.maximum(scale, channel_max / clip))


def is_linear_depthwise(layer) -> bool:
    return (type(layer) is kl.DepthwiseConv2D and layer.get_config()["activation"] == "linear"
            and layer.data_format == "channels_last")


def is_plain_conv(layer) -> bool:
    return type(layer) is kl.Conv2D and layer.groups == 1 and layer.data_format == "channels_last"


def is_activation(layer) -> bool:
    return type(layer) in (kl.ReLU, kl.Activation)


def is_relu_like(layer) -> bool:
    """Positively homogeneous up to a clip: f(s x) = s f(x) for s > 0 wherever the clip does not bind."""
    if type(layer) is kl.ReLU:
        return float(layer.threshold) == 0.0 and float(layer.negative_slope) >= 0.0
    return type(layer) is kl.Activation and layer.get_config()["activation"] in ("relu", "relu6", "linear")


def activation_clip(layer) -> float | None:
    if type(layer) is kl.ReLU:
        return None if layer.max_value is None else float(layer.max_value)
    return 6.0 if layer.get_config()["activation"] == "relu6" else None


def unclipped_config(layer) -> dict:
    config = layer.get_config()
    return {**config, "max_value": None} if type(layer) is kl.ReLU else {**config, "activation": "relu"}


def clip_usage(model, depthwise_layers: list, clips: list, calibration_inputs) -> dict:
    """{depthwise layer name: ClipUsage} over the calibration inputs ({} without them)."""
    if not depthwise_layers or calibration_inputs is None or len(calibration_inputs) == 0:
        return {}
    probe = keras.Model(model.inputs[0], [layer.output for layer in depthwise_layers])
    above, total = np.zeros(len(depthwise_layers)), np.zeros(len(depthwise_layers))
    channel_max = [np.full(layer.output.shape[-1], -np.inf) for layer in depthwise_layers]
    for start in range(0, len(calibration_inputs), BATCH):
        outputs = probe(np.asarray(calibration_inputs[start:start + BATCH], dtype=np.float32))
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for index, (output, clip) in enumerate(zip(outputs, clips)):
            output = np.asarray(output)
            above[index] += np.count_nonzero(output > clip)
            total[index] += output.size
            channel_max[index] = np.maximum(channel_max[index], output.reshape(-1, output.shape[-1]).max(axis=0))
    return {layer.name: ClipUsage(float(above[index] / total[index]), channel_max[index])
            for index, layer in enumerate(depthwise_layers)}


def rescaled(depthwise_weights: list, pointwise_weights: list, scale: np.ndarray) -> tuple:
    """(depthwise weights, pointwise weights) with depthwise output channel i divided by s_i and pointwise input
    channel i multiplied by s_i."""
    kernel = depthwise_weights[0].astype(np.float64)
    pointwise = pointwise_weights[0].astype(np.float64)
    new_depthwise = [(kernel / scale.reshape(kernel.shape[2:])).astype(np.float32)]
    new_depthwise += [(bias.astype(np.float64) / scale).astype(np.float32) for bias in depthwise_weights[1:]]
    new_pointwise = [(pointwise * scale[:, None]).astype(np.float32), *pointwise_weights[1:]]
    return new_depthwise, new_pointwise


def equalizing_scale(depthwise_range: np.ndarray, pointwise_range: np.ndarray) -> np.ndarray:
    """s_i = sqrt(r1_i / r2_i); 1 where either range is zero."""
    valid = (depthwise_range > 0) & (pointwise_range > 0)
    ratio = np.where(valid, depthwise_range, 1.0) / np.where(valid, pointwise_range, 1.0)
    return np.sqrt(ratio)


def channel_ranges(depthwise_kernel: np.ndarray) -> np.ndarray:
    """max|w| per depthwise output channel, in output order (channel c, multiplier j -> c * multiplier + j)."""
    return np.max(np.abs(depthwise_kernel), axis=(0, 1)).reshape(-1)


def spread(depthwise_kernel: np.ndarray) -> float:
    """max / min of the depthwise channels' max|w|, leaving out channels below 1e-6 of the largest: dead channels,
    which equalization shrinks to ~1e-15 because nothing reads them."""
    ranges = channel_ranges(depthwise_kernel)
    ranges = ranges[ranges >= 1e-6 * ranges.max()]
    return float(ranges.max() / ranges.min()) if ranges.size and ranges.max() > 0 else 1.0
