"""Chain models (each layer reads only the layer before it): their layers in order, and rebuilding one from
per-layer specifications. The float-model transforms before int8 conversion (fold_batchnorm, equalize) use it.
"""
from dataclasses import dataclass

import keras
import numpy as np

from mnd.pipeline.errors import ModelError

SUPPORTED = ("mnd applies batch-norm folding, cross-layer equalization and bias correction to chain models only "
             "(every layer reads the one before it, like MobileNet v1)")


@dataclass
class LayerSpec:
    """A layer to rebuild: its class, its config (name included) and its weights in get_weights() order."""

    cls: type
    config: dict
    weights: list


def spec_of(layer) -> LayerSpec:
    """An unchanged copy of `layer`."""
    return LayerSpec(type(layer), layer.get_config(), [np.array(weight) for weight in layer.get_weights()])


def chain_layers(model) -> list:
    """The model's layers after its input, in order; a ModelError when the model is not a chain."""
    if isinstance(model, keras.Sequential):
        layers = list(model.layers)
    elif type(model).__name__ == "Functional" or type(model) is keras.Model:
        layers = _functional_chain(model)
    else:
        raise ModelError(f"model '{model.name}' is a subclassed {type(model).__name__}; {SUPPORTED}")
    nested = [layer.name for layer in layers if isinstance(layer, keras.Model)]
    if nested:
        raise ModelError(f"model '{model.name}' nests model '{nested[0]}' as a layer; {SUPPORTED}")
    return layers


def _functional_chain(model) -> list:
    config = model.get_config()
    entries = config["layers"]
    by_name = {layer.name: layer for layer in model.layers}
    if len(_tensor_names(config["input_layers"])) != 1 or len(_tensor_names(config["output_layers"])) != 1:
        raise ModelError(f"model '{model.name}' has several inputs or outputs; {SUPPORTED}")
    previous, layers = None, []
    for entry in entries:
        if entry["class_name"] == "InputLayer":
            if previous is not None:
                raise ModelError(f"model '{model.name}' has a second input '{entry['name']}'; {SUPPORTED}")
            previous = entry["name"]
            continue
        sources = _tensor_names(entry["inbound_nodes"])
        if len(entry["inbound_nodes"]) != 1 or sources != [previous]:
            read = ", ".join(f"'{name}'" for name in sources) or "nothing"
            raise ModelError(f"layer '{entry['name']}' of model '{model.name}' reads {read}, not only the layer "
                             f"before it ('{previous}'); {SUPPORTED}")
        layers.append(by_name[entry["name"]])
        previous = entry["name"]
    if _tensor_names(config["output_layers"]) != [previous]:
        raise ModelError(f"model '{model.name}' does not output its last layer '{previous}'; {SUPPORTED}")
    return layers


def _tensor_names(node) -> list:
    """Names of the layers whose tensors a serialized config refers to (keras_history, or [name, node, index])."""
    if isinstance(node, dict):
        history = node.get("config", {}).get("keras_history") if node.get("class_name") == "__keras_tensor__" \
            else None
        if history:
            return [history[0]]
        return [name for value in node.values() for name in _tensor_names(value)]
    if isinstance(node, (list, tuple)):
        if len(node) == 3 and isinstance(node[0], str) and all(isinstance(item, int) for item in node[1:]):
            return [node[0]]
        return [name for value in node for name in _tensor_names(value)]
    return []


def rebuild_chain(model, specs: list) -> keras.Model:
    """A new model with the input of `model` and the layers of `specs`, applied one after another."""
    inputs = keras.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype, name=model.inputs[0].name)
    x = inputs
    for spec in specs:
        layer = spec.cls.from_config(spec.config)
        x = layer(x)
        layer.set_weights(spec.weights)
    return keras.Model(inputs, x, name=model.name)
