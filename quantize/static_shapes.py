"""Fold run-time shape arithmetic out of a converted model whose shapes are all static.

Keras 3's Flatten computes its target shape from the batch size at run time, so the converter emits
SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE even for a batch-1 export. With static tensor shapes the RESHAPE can
take a constant shape, and the shape ops, now unused, are dropped: fewer ops, and ops every runtime supports.
"""

from mnd.quantize import tflite_edit


def fold_static_reshapes(data: bytes) -> bytes:
    fb = tflite_edit.schema()
    model = tflite_edit.load(data)
    changed = False
    for graph in model.subgraphs:
        constant = {i for i, t in enumerate(graph.tensors) if t.buffer and model.buffers[t.buffer].data is not None}
        operators = []
        for op in graph.operators:
            output = graph.tensors[op.outputs[0]]
            if (tflite_edit.builtin(model, op) == fb.BuiltinOperator.RESHAPE and len(op.inputs) > 1
                    and int(op.inputs[1]) not in constant and output.shape is not None and min(output.shape) > 0):
                op = tflite_edit.reshape_op(model, graph, int(op.inputs[0]), int(op.outputs[0]))
                changed = True
            operators.append(op)
        graph.operators = _without_dead_ops(graph, operators)
    return tflite_edit.pack(model) if changed else data


def _without_dead_ops(graph, operators: list) -> list:
    """Drop ops none of whose outputs is read by another op or is a graph output, until none is left."""
    while True:
        read = {int(i) for op in operators for i in op.inputs if i >= 0} | {int(i) for i in graph.outputs}
        kept = [op for op in operators if any(int(o) in read for o in op.outputs)]
        if len(kept) == len(operators):
            return kept
        operators = kept
