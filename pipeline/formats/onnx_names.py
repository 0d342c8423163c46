"""Names in a converted ONNX graph that depend only on its structure, so equal models give equal bytes.

tf2onnx names nodes and constants with a process-wide counter and records the traced function's numbered
name, so the same Keras model converted after other work in the same process gives different bytes.
"""
from pathlib import Path


def canonicalize_names(model) -> None:
    """Rename nodes `NNNN_OpType`, their outputs `NNNN_OpType:k` and initializers `NNNN_OpType/inK` after their
    first consumer, ordered by first use. Graph inputs and outputs keep their names (they are the interface)."""
    graph = model.graph
    interface = {value.name for value in graph.input} | {value.name for value in graph.output}
    renamed = {}
    for index, node in enumerate(graph.node):
        node.name = f"{index:04d}_{node.op_type}"
        renamed.update({output: f"{node.name}:{k}" for k, output in enumerate(node.output)
                        if output and output not in interface})
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    first_use = []
    for node in graph.node:
        for slot, name in enumerate(node.input):
            if name in initializers and name not in renamed:
                renamed[name] = f"{node.name}/in{slot}"
                first_use.append(initializers[name])
    for node in graph.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]
        node.output[:] = [renamed.get(name, name) for name in node.output]
    for value in graph.value_info:
        value.name = renamed.get(value.name, value.name)
    for tensor in first_use:
        tensor.name = renamed[tensor.name]
    kept_as_outputs = [tensor for name, tensor in initializers.items() if name in interface]
    del graph.initializer[:]
    graph.initializer.extend(first_use + kept_as_outputs)
    graph.doc_string = ""


def canonicalize_file(path: Path) -> Path:
    import onnx

    model = onnx.load(str(path))
    canonicalize_names(model)
    onnx.save(model, str(path))
    return path
