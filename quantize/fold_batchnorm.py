"""Batch normalization folded into the convolution before it: y = gamma (conv(x) + b - mean) / sqrt(var + eps) + beta
becomes a convolution with kernel * factor and bias (b - mean) * factor + beta, factor = gamma / sqrt(var + eps).

A BatchNormalization that does not directly follow a linear Conv2D or DepthwiseConv2D (channels last, normalizing
the channel axis) read by nothing else is copied unchanged: the model stays correct, only that layer is not folded.
Residual graphs fold like chains: V2's and V3's batch norms each follow the one convolution they normalize.
"""
import keras
import numpy as np
from keras import layers as kl

from mnd.quantize.graph import LayerSpec, model_graph, spec_of


def fold_batchnorm(model) -> keras.Model:
    """A copy of `model` with each foldable BatchNormalization merged into its convolution (`model` itself when
    there is none)."""
    graph = model_graph(model)
    specs, removed = {}, set()
    for name in graph.order:
        layer, sources = graph.layers[name], graph.sources[name]
        if not isinstance(layer, kl.BatchNormalization) or len(sources) != 1 or graph.only_consumer(sources[0]) != name:
            continue
        conv = spec_of(graph.layers[sources[0]])
        if foldable(conv, layer):
            specs[sources[0]] = folded(conv, layer)
            removed.add(name)
    return graph.rebuild(specs, removed) if removed else model


def foldable(conv: LayerSpec, batchnorm) -> bool:
    if conv.cls not in (kl.Conv2D, kl.DepthwiseConv2D):
        return False
    config = conv.config
    return (config.get("activation") == "linear" and config.get("data_format") == "channels_last"
            and batchnorm.axis in (-1, 3))


def folded(conv: LayerSpec, batchnorm) -> LayerSpec:
    kernel = conv.weights[0].astype(np.float64)
    bias = conv.weights[1].astype(np.float64) if conv.config["use_bias"] else np.zeros(output_channels(conv))
    gamma, beta, mean, variance = batchnorm_parameters(batchnorm)
    factor = gamma / np.sqrt(variance + batchnorm.epsilon)
    new_kernel = kernel * factor.reshape(kernel.shape[2:] if conv.cls is kl.DepthwiseConv2D else (-1,))
    new_bias = (bias - mean) * factor + beta
    config = {**conv.config, "use_bias": True}
    return LayerSpec(conv.cls, config, [new_kernel.astype(np.float32), new_bias.astype(np.float32)])


def output_channels(conv: LayerSpec) -> int:
    shape = conv.weights[0].shape
    return int(np.prod(shape[2:])) if conv.cls is kl.DepthwiseConv2D else int(shape[-1])


def batchnorm_parameters(batchnorm) -> tuple:
    """gamma, beta, moving mean, moving variance as float64 (gamma 1 and beta 0 when scale or center is off)."""
    mean = np.asarray(batchnorm.moving_mean, dtype=np.float64)
    variance = np.asarray(batchnorm.moving_variance, dtype=np.float64)
    gamma = np.asarray(batchnorm.gamma, dtype=np.float64) if batchnorm.scale else np.ones_like(mean)
    beta = np.asarray(batchnorm.beta, dtype=np.float64) if batchnorm.center else np.zeros_like(mean)
    return gamma, beta, mean, variance
