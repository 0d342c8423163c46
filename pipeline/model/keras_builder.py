"""Keras MobileNet v1 built from the layer plan in pipeline.architecture (paper Table 1); V2 and V3 specs go to
pipeline.model.keras_inverted_residual."""
import keras
from keras import layers

from mnd.pipeline.model.architecture import ModelSpec, layer_plan
from mnd.pipeline.model.inverted_residual import InvertedResidualSpec
from mnd.pipeline.model.keras_inverted_residual import build_inverted_residual
from mnd.pipeline.model.registry import parse_model_name

BN_EPSILON = 1e-3


def create_model(name: str, classes: int = 1000, **spec_fields) -> keras.Model:
    """Registry entry point: create_model('mobilenet_v1_025_96', classes=2), any family's name."""
    return build_model(parse_model_name(name, classes=classes, **spec_fields))


def build_model(spec: ModelSpec | InvertedResidualSpec, bn_momentum: float = 0.99, weight_decay: float = 0.0,
                dropout: float | None = None) -> keras.Model:
    """One Keras layer per planned layer, each conv followed by batch norm and the activation.

    `weight_decay` applies to full and pointwise convolutions only: the paper puts little or none on
    depthwise filters, which have too few parameters to need it. `dropout` before the classifier: by default none for V1, Keras Applications' for V2 and V3.
    """
    if isinstance(spec, InvertedResidualSpec):
        return build_inverted_residual(spec, bn_momentum, weight_decay, dropout)
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None
    inputs = keras.Input(shape=spec.input_shape[1:], name="image")
    x = inputs
    for index, layer in enumerate(layer_plan(spec)):
        if layer.kind == "pool":
            x = layers.GlobalAveragePooling2D(name="global_pool")(x)
            if dropout:
                x = layers.Dropout(dropout, name="dropout")(x)
            continue
        if layer.kind == "fc":
            x = layers.Dense(layer.out_channels, name="logits")(x)
            x = layers.Softmax(name="softmax")(x)
            continue
        name = f"{layer.kind}_{index}"
        if layer.kind == "dw":
            x = layers.DepthwiseConv2D(3, strides=layer.stride, padding="same", use_bias=False, name=name)(x)
        else:
            x = layers.Conv2D(layer.out_channels, layer.kernel, strides=layer.stride, padding="same",
                              use_bias=False, kernel_regularizer=regularizer, name=name)(x)
        x = layers.BatchNormalization(momentum=bn_momentum, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        x = layers.ReLU(max_value=6.0 if spec.activation == "relu6" else None, name=f"{name}_{spec.activation}")(x)
    return keras.Model(inputs, x, name=spec.name)


def counted_weights(model: keras.Model) -> int:
    """Conv and FC weights plus FC biases: the paper's parameter convention (batch norm excluded)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            total += sum(int(w.numpy().size) for w in layer.weights)
    return total
