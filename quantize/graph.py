"""A functional Keras model as a graph of named layers: what each layer reads and what reads it, and a rebuilt copy
with some layers removed, some configs changed and some weights replaced. The float-model transforms before int8
conversion (fold_batchnorm, equalize, bias_correct) use it, on chains (MobileNet v1) and residual graphs (V2's ADD,
V3's squeeze-and-excite MULTIPLY and hard-swish arithmetic) alike.
"""
import copy
from dataclasses import dataclass

import keras
import numpy as np

from mnd.base.errors import ModelError

SUPPORTED = ("mnd applies batch-norm folding, cross-layer equalization and bias correction to functional and "
             "Sequential Keras models whose layers are each called once")
OUTPUT = "<model output>"  # the reader of a model output, in Graph.consumers


@dataclass
class LayerSpec:
    """A layer to rebuild: its class, its config (name included) and its weights in get_weights() order."""

    cls: type
    config: dict
    weights: list


def spec_of(layer) -> LayerSpec:
    """An unchanged copy of `layer`."""
    return LayerSpec(type(layer), layer.get_config(), [np.array(weight) for weight in layer.get_weights()])


@dataclass
class Graph:
    model: keras.Model  # functional (a Sequential model is viewed through its functional equivalent)
    config: dict
    order: list  # names of the layers and operations after the input, in the order Keras computes them
    layers: dict  # name -> layer or operation
    sources: dict  # name -> names of what it reads, in argument order
    consumers: dict  # name -> names of what reads it (OUTPUT for a model output)

    def layer_list(self) -> list:
        return [self.layers[name] for name in self.order]

    def only_consumer(self, name: str) -> str | None:
        """The one layer reading `name`'s output, or None when several (or the model output, or none) read it."""
        readers = self.consumers[name]
        return readers[0] if len(readers) == 1 and readers[0] != OUTPUT else None

    def rebuild(self, specs: dict | None = None, removed: set = frozenset()) -> keras.Model:
        """A new model: `specs` {name: LayerSpec} replace those layers' configs and weights, each layer in
        `removed` (one input, same output shape) is bypassed, its readers reading its input; every other layer
        keeps its weights."""
        specs = specs or {}
        config = copy.deepcopy(self.config)
        bypass = {name: self._history(name) for name in removed}
        config["layers"] = [entry for entry in config["layers"] if entry["name"] not in removed]
        for entry in config["layers"]:
            if entry["name"] in specs:
                entry["config"] = copy.deepcopy(specs[entry["name"]].config)
        config = _redirect(config, bypass) if bypass else config
        rebuilt = keras.Model.from_config(config)
        for layer in rebuilt.layers:
            weights = specs[layer.name].weights if layer.name in specs else self.layers[layer.name].get_weights()
            if weights:
                layer.set_weights(weights)
        return rebuilt

    def _history(self, name: str) -> list:
        entry = next(entry for entry in self.config["layers"] if entry["name"] == name)
        histories = _histories(entry["inbound_nodes"])
        if len(histories) != 1:
            raise ModelError(f"layer '{name}' of model '{self.model.name}' reads {len(histories)} tensors and cannot "
                             "be removed")
        return histories[0]


def model_graph(model) -> Graph:
    """The graph of `model`; a ModelError naming the layer when it is not a model mnd can take apart."""
    if isinstance(model, keras.Sequential):
        model = keras.Model(model.inputs[0], model.outputs[0], name=model.name)
    elif not (type(model).__name__ == "Functional" or type(model) is keras.Model):
        raise ModelError(f"model '{model.name}' is a subclassed {type(model).__name__}; {SUPPORTED}")
    foreign = [operation for operation in model.operations
               if not type(operation).__module__.startswith(("keras.", "tf_keras."))]
    if foreign:
        raise ModelError(f"model '{model.name}' has layer '{foreign[0].name}' of class {type(foreign[0]).__name__}, "
                         f"not a Keras layer mnd can rebuild (a SavedModel is one frozen graph); {SUPPORTED}")
    config = model.get_config()
    if len(_histories(config["input_layers"])) != 1 or len(_histories(config["output_layers"])) != 1:
        raise ModelError(f"model '{model.name}' has several inputs or outputs; {SUPPORTED}")
    by_name = {operation.name: operation for operation in model.operations}
    order, sources = [], {}
    consumers = {entry["name"]: [] for entry in config["layers"]}
    for entry in config["layers"]:
        if entry["class_name"] == "InputLayer":
            continue
        if isinstance(by_name.get(entry["name"]), keras.Model):
            raise ModelError(f"model '{model.name}' nests model '{entry['name']}' as a layer; {SUPPORTED}")
        if len(entry["inbound_nodes"]) != 1:
            raise ModelError(f"layer '{entry['name']}' of model '{model.name}' is called "
                             f"{len(entry['inbound_nodes'])} times; {SUPPORTED}")
        order.append(entry["name"])
        sources[entry["name"]] = [history[0] for history in _histories(entry["inbound_nodes"])]
        for source in sources[entry["name"]]:
            consumers[source].append(entry["name"])
    for history in _histories(config["output_layers"]):
        consumers[history[0]].append(OUTPUT)
    return Graph(model, config, order, by_name, sources, consumers)


def graph_problem(model) -> str | None:
    """Why the float-model transforms cannot take `model` apart, or None when they can."""
    try:
        model_graph(model)
    except ModelError as error:
        return str(error)
    return None


def _histories(node) -> list:
    """[layer name, node index, tensor index] of every tensor a serialized config refers to, in order."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return [list(node["config"]["keras_history"])]
        return [history for value in node.values() for history in _histories(value)]
    if isinstance(node, (list, tuple)):
        if len(node) == 3 and isinstance(node[0], str) and all(isinstance(item, int) for item in node[1:]):
            return [list(node)]
        return [history for value in node for history in _histories(value)]
    return []


def _redirect(node, bypass: dict):
    """A copy of `node` with every reference to a bypassed layer made a reference to what that layer read."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return {**node, "config": {**node["config"], "keras_history": _resolve(node["config"]["keras_history"],
                                                                                   bypass)}}
        return {key: _redirect(value, bypass) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        if len(node) == 3 and isinstance(node[0], str) and all(isinstance(item, int) for item in node[1:]):
            return _resolve(node, bypass)
        return type(node)(_redirect(value, bypass) for value in node)
    return node


def _resolve(history, bypass: dict) -> list:
    while history[0] in bypass:
        history = bypass[history[0]]
    return list(history)
