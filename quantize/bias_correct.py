"""Empirical bias correction (Nagel et al. 2019; Finkelstein et al. 2019): int8 weights W_q = W + eps shift a
layer's expected output by E[eps x]; subtracting that shift from the bias gives the quantized layer the float
layer's output mean.

E[eps x] is computed exactly from the mean over the calibration inputs of the layer's float input map: a
convolution is linear, so the mean of conv(x, eps) is conv(mean x, eps), which accounts for every kernel tap, the
strides and the zero padding at the borders. The result is then averaged over output positions. Every layer is
corrected from the float model's inputs (the quantized model's inputs match them in expectation once the layers
before are corrected).
"""
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers as kl

from mnd.base.errors import DataError
from mnd.quantize.graph import model_graph, spec_of
from mnd.quantize.weight_quant import check_granularity, fake_quantized, reduced_axes

BATCH = 32
CORRECTED = (kl.Conv2D, kl.DepthwiseConv2D, kl.Dense)


@dataclass
class BiasRecord:
    layer: str
    mean_correction: float  # mean over output channels of |correction|
    relative_to_bias: float  # mean |correction| / mean |bias|
    relative_to_output_std: float  # mean |correction| / mean over channels of the float pre-activation's std

    def line(self) -> str:
        return (f"{self.layer}: bias corrected by {self.mean_correction:.3g} on average ({self.relative_to_bias:.1%} "
                f"of the mean |bias|, {self.relative_to_output_std:.1%} of the output std)")


@dataclass
class LayerStats:
    input_sum: np.ndarray  # float input summed over the calibration inputs (one map for convolutions)
    output_sum: np.ndarray  # per output channel, float pre-activation
    output_square_sum: np.ndarray
    samples: int = 0
    outputs: int = 0


def bias_correct(model, calibration_inputs: np.ndarray, weights: str = "per-channel") -> tuple:
    """(copy of `model` (a chain or a residual graph) with corrected biases, [BiasRecord] in model order). `weights`: "per-channel"
    or "per-tensor", as the converter will quantize them."""
    check_granularity(weights)
    if calibration_inputs is None or len(calibration_inputs) == 0:
        raise DataError("bias correction needs calibration inputs (the float layers' input means come from them); "
                        "give --calib a dataset with images")
    graph = model_graph(model)
    targets = [layer for layer in graph.layer_list() if correctable(layer)]
    statistics = layer_statistics(model, targets, calibration_inputs)
    specs, records = {}, []
    for layer in targets:
        spec = specs[layer.name] = spec_of(layer)
        kernel, bias = spec.weights
        error = fake_quantized(kernel, reduced_axes(type(layer), kernel, weights)) - kernel
        stats = statistics[layer.name]
        shift = expected_shift(layer, stats.input_sum / stats.samples, error)
        spec.weights = [kernel, (bias.astype(np.float64) - shift).astype(np.float32)]
        records.append(record(layer.name, shift, bias, stats))
    return (graph.rebuild(specs) if specs else model), records


def correctable(layer) -> bool:
    return (type(layer) in CORRECTED and layer.use_bias
            and getattr(layer, "data_format", "channels_last") == "channels_last")


def layer_statistics(model, layers: list, calibration_inputs: np.ndarray) -> dict:
    if not layers:
        return {}
    probe = keras.Model(model.inputs[0], [layer.input for layer in layers])
    statistics = {}
    for start in range(0, len(calibration_inputs), BATCH):
        inputs = probe(np.asarray(calibration_inputs[start:start + BATCH], dtype=np.float32))
        inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        for layer, batch in zip(layers, inputs):
            accumulate(statistics, layer, np.asarray(batch))
    return statistics


def accumulate(statistics: dict, layer, batch: np.ndarray) -> None:
    kernel, bias = layer.get_weights()
    output = np.asarray(linear_op(layer, batch, kernel), dtype=np.float64) + bias
    channels = output.reshape(-1, output.shape[-1])
    stats = statistics.setdefault(layer.name, LayerStats(np.zeros(batch.shape[1:]), np.zeros(output.shape[-1]),
                                                         np.zeros(output.shape[-1])))
    stats.input_sum += batch.sum(axis=0, dtype=np.float64)
    stats.output_sum += channels.sum(axis=0)
    stats.output_square_sum += np.square(channels).sum(axis=0)
    stats.samples += batch.shape[0]
    stats.outputs += channels.shape[0]


def expected_shift(layer, mean_input: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Mean over output positions of the layer's bias-free output for the mean input with kernel `error`."""
    shifted = np.asarray(linear_op(layer, mean_input[None].astype(np.float32), error.astype(np.float32)),
                         dtype=np.float64)
    return shifted.reshape(-1, shifted.shape[-1]).mean(axis=0)


def linear_op(layer, inputs: np.ndarray, kernel: np.ndarray):
    """The layer's convolution or matrix product without bias and activation, with `kernel` as its weights."""
    if type(layer) is kl.Dense:
        return keras.ops.matmul(inputs, kernel)
    if type(layer) is kl.DepthwiseConv2D:
        return keras.ops.depthwise_conv(inputs, kernel, strides=layer.strides, padding=layer.padding,
                                        data_format=layer.data_format, dilation_rate=layer.dilation_rate)
    return layer.convolution_op(inputs, kernel)


def record(name: str, shift: np.ndarray, bias: np.ndarray, stats: LayerStats) -> BiasRecord:
    mean = stats.output_sum / stats.outputs
    std = np.sqrt(np.maximum(stats.output_square_sum / stats.outputs - np.square(mean), 0.0))
    correction = float(np.mean(np.abs(shift)))
    return BiasRecord(name, correction, correction / max(float(np.mean(np.abs(bias))), 1e-12),
                      correction / max(float(np.mean(std)), 1e-12))
