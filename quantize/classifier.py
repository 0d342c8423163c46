"""Export the final Dense classifier as an equivalent 1x1 convolution.

LiteRT's reference int8 FULLY_CONNECTED rounds the requantization once; TFLite-Micro's rounds twice (as both
do for CONV_2D), so they differ by 1 LSB on roughly one output in 256 (seen on vww_96.h5). The same weights as
a 1x1 CONV_2D over a 1x1 map compute the same float function and run bit-exactly on both.
"""
import keras


class StaticReshape(keras.layers.Layer):
    """Reshape to a fully static shape, batch included: the converter then emits one RESHAPE and no SHAPE ops."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def call(self, inputs):
        return keras.ops.reshape(inputs, self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


def _is_softmax(layer) -> bool:
    return isinstance(layer, keras.layers.Softmax) or (
        isinstance(layer, keras.layers.Activation) and layer.activation is keras.activations.softmax)


def batch1_model(model) -> keras.Model:
    """The model with a batch-1 input; a final Dense (optionally followed by a softmax layer) becomes a 1x1
    Conv2D between static reshapes."""
    inputs = keras.Input(shape=model.input_shape[1:], batch_size=1, name="image")
    layers = model.layers
    tail = layers[-1] if _is_softmax(layers[-1]) else None
    dense = layers[-2] if tail is not None else layers[-1]
    if not isinstance(dense, keras.layers.Dense) or len(dense.input.shape) != 2:
        return keras.Model(inputs, model(inputs), name=model.name)
    width, units = int(dense.input.shape[-1]), dense.units
    features = keras.Model(model.inputs, dense.input)(inputs)
    conv = keras.layers.Conv2D(units, 1, use_bias=dense.use_bias, name=f"{dense.name}_as_1x1_conv")
    x = conv(StaticReshape((1, 1, 1, width), name="head_map")(features))
    conv.set_weights([dense.get_weights()[0].reshape(1, 1, width, units), *dense.get_weights()[1:]])
    x = keras.layers.Activation(dense.activation, name="head_activation")(StaticReshape((1, units), name="head")(x))
    if tail is not None:
        x = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, x, name=model.name)
