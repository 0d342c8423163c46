"""Keras MobileNet V2 and V3 built from the layer plan in pipeline.model.inverted_residual.

Keras Applications' layer structure, with two differences that change no weight and no result for even sides:
`padding="same"` instead of ZeroPadding2D + "valid" before stride-2 depthwise layers (see docs/DESIGN.md), and no
Rescaling layer in front of V3 (preprocessing is the pipeline's, recorded in the manifest, as for V1).
"""
import keras
from keras import layers

from mnd.pipeline.model.inverted_residual import InvertedResidualSpec, layer_plan

BN_EPSILON = 1e-3
V3_DROPOUT = 0.2  # Keras Applications' default before V3's classifier


def _activation(x, name: str | None, label: str):
    if name is None:
        return x
    if name == "relu6":
        return layers.ReLU(6.0, name=f"{label}_relu6")(x)
    if name == "relu":
        return layers.ReLU(name=f"{label}_relu")(x)
    return layers.Activation(name, name=f"{label}_{name}")(x)


class _Builder:
    """Keras layers for planned layers; convolutions without bias get batch norm, as in Keras Applications."""

    def __init__(self, bn_momentum: float, weight_decay: float):
        self.bn_momentum = bn_momentum
        self.regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None

    def conv(self, x, layer, label: str):
        if layer.kind == "dw":
            x = layers.DepthwiseConv2D(layer.kernel, strides=layer.stride, padding="same", use_bias=False,
                                       name=label)(x)
        else:
            x = layers.Conv2D(layer.out_channels, layer.kernel, strides=layer.stride, padding="same",
                              use_bias=layer.bias, kernel_regularizer=self.regularizer, name=label)(x)
        if not layer.bias:
            x = layers.BatchNormalization(momentum=self.bn_momentum, epsilon=BN_EPSILON, name=f"{label}_bn")(x)
        return _activation(x, layer.activation, label)

    def bottleneck(self, x, block):
        shortcut, prefix = x, f"block_{block.index}"
        pending_se = None
        for layer in block.layers:
            label = f"{prefix}_{layer.kind}"
            if layer.kind == "se_reduce":
                pending_se = x
                x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}_se_pool")(x)
            x = self.conv(x, layer, label)
            if layer.kind == "se_expand":
                x = layers.Multiply(name=f"{prefix}_se_scale")([pending_se, x])
        if block.residual:
            x = layers.Add(name=f"{prefix}_add")([shortcut, x])
        return x


def build_inverted_residual(spec: InvertedResidualSpec, bn_momentum: float = 0.99, weight_decay: float = 0.0,
                            dropout: float | None = None) -> keras.Model:
    """The Keras model of `spec`; `dropout` before the classifier defaults to Keras Applications' (V2 none, V3
    0.2). V3's head and classifier are 1x1 convolutions on the pooled map, then Flatten and Softmax, as in Keras."""
    plan = layer_plan(spec)
    builder = _Builder(bn_momentum, weight_decay)
    dropout = (V3_DROPOUT if spec.family != "v2" else 0.0) if dropout is None else dropout
    inputs = keras.Input(shape=spec.input_shape[1:], name="image")
    x = builder.conv(inputs, plan.stem, "stem")
    for block in plan.blocks:
        x = builder.bottleneck(x, block)
    last, _pool, *head, classifier = plan.tail
    x = builder.conv(x, last, "last")
    if spec.family == "v2":
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Dense(classifier.out_channels, name="logits")(x)
    else:
        x = layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(x)
        x = builder.conv(x, head[0], "head")
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classifier.out_channels, 1, name="logits")(x)
        x = layers.Flatten(name="flatten")(x)
    x = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, x, name=spec.name)
