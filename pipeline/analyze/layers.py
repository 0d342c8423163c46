"""The per-layer table of `mnd analyze`: each operator the C engine runs (a RESHAPE's shape-only chain is dropped, as
the engine drops it) with its activation input and output shapes, parameters and their bytes as stored."""
import numpy as np

from mnd.base.tflite.read import WEIGHT_OPS
from mnd.engine.generator import shape_only_ops

PARAMETER_OPS = (*WEIGHT_OPS, "ADD", "MUL")  # their constant operands are parameters; other ops' are shapes, axes


def layer_rows(model, ops: tuple, macs: tuple) -> list:
    """`model`: load_tflite's object tree; `ops`: its op names; `macs`: the engine's count for each kept layer."""
    graph = model.subgraphs[0]
    kept = [i for i in range(len(ops)) if i not in shape_only_ops(list(ops), graph)]
    rows = []
    for position, (index, layer_macs) in enumerate(zip(kept, macs)):
        operator = graph.operators[index]
        inputs = [int(t) for t in (operator.inputs if operator.inputs is not None else []) if t >= 0]
        constants = [t for t in inputs if _is_constant(model, graph, t)]
        counted = constants if ops[index] in PARAMETER_OPS else []
        rows.append({"index": position, "op": ops[index],
                     "inputs": [_shape(graph, t) for t in inputs if t not in constants],
                     "output": _shape(graph, int(operator.outputs[0])),
                     "macs": int(layer_macs),
                     "params": sum(int(np.prod(_shape(graph, t), dtype=np.int64)) for t in counted),
                     "weight_bytes": sum(_buffer_bytes(model, graph, t) for t in counted)})
    return rows


def _shape(graph, tensor: int) -> list:
    shape = graph.tensors[tensor].shape
    return [int(d) for d in shape] if shape is not None else []


def _buffer_bytes(model, graph, tensor: int) -> int:
    data = model.buffers[graph.tensors[tensor].buffer].data
    return 0 if data is None else len(data)


def _is_constant(model, graph, tensor: int) -> bool:
    return _buffer_bytes(model, graph, tensor) > 0
