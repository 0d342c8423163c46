"""A Keras classifier's outputs before its final softmax: where int8 and float differ visibly (a saturated softmax
hides the difference, and argmax(logits) = argmax(softmax))."""
import numpy as np


def float_logits(model, inputs: np.ndarray) -> tuple:
    """(outputs, is_logits): the outputs before a final Softmax layer or softmax activation, else the outputs."""
    import keras

    last = model.layers[-1]
    softmax_layer = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and last.activation is keras.activations.softmax)
    if softmax_layer:
        return np.asarray(keras.Model(model.inputs, last.input).predict(inputs, batch_size=64, verbose=0)), True
    if isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax:
        features = keras.Model(model.inputs, last.input).predict(inputs, batch_size=64, verbose=0)
        kernel, bias = (w.numpy() for w in last.weights) if last.use_bias else (last.weights[0].numpy(), 0.0)
        return np.asarray(features, np.float64) @ kernel.astype(np.float64) + bias, True
    return np.asarray(model.predict(inputs, batch_size=64, verbose=0)), False
