"""Activation ranges for ONNX Runtime's static quantization, chosen as for the TFLite model.

The float model runs over the calibration samples with every float activation tensor as an extra output; the ranges
quantize.activation_ranges chooses go to quantize_static as TensorQuantOverrides rmin/rmax, from which it computes
scales and zero points as it does from its own MinMax ranges. Like the TFLite model, the model input (and its
layout copies: ONNX Runtime quantizes the NCHW transpose, not the NHWC input) keeps its observed range, and Softmax
outputs keep ONNX Runtime's fixed [0, 1]. 4-D tensors are collected in TFLite's NHWC order (tf2onnx computes in
NCHW between transposes), so the statistics' random subsample holds the values the TFLite model's holds.
"""
from pathlib import Path

import numpy as np

from mnd.quantize.activation_ranges import TensorStatistics, choose_ranges

LAYOUT_OPS = ("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity")
FIXED_RANGE_OPS = ("Softmax",)
RANGE_FROM_OUTPUT_OPS = ("Clip", "Relu")  # ONNX Runtime quantizes a lone input of these with their output's range
RESHAPING_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")
NHWC = (0, 1, 2, 3)


def range_overrides(model_path: Path, calibration_inputs: np.ndarray, method: str) -> dict:
    """{tensor name: [{"rmin", "rmax"}]}: `method`'s range for every float activation tensor of the model."""
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(model_path)))
    choices = choose_ranges(activation_statistics(model, activation_tensors(model), calibration_inputs), method)
    overrides = {name: [{"rmin": np.float32(choice.lo), "rmax": np.float32(choice.hi)}]
                 for name, choice in choices.items()}
    for source, output in _ranged_by_output(model).items():
        if output in overrides:
            overrides[source] = overrides[output]
    return overrides


def activation_tensors(model) -> list:
    """Names of the float tensors computed by the graph, except the input's copies and fixed-range outputs."""
    import onnx

    typed = {info.name: info.type.tensor_type.elem_type
             for info in (*model.graph.value_info, *model.graph.output)}
    excluded = _input_copies(model) | {name for node in model.graph.node if node.op_type in FIXED_RANGE_OPS
                                       for name in node.output}
    return [name for node in model.graph.node for name in node.output
            if typed.get(name) == onnx.TensorProto.FLOAT and name not in excluded]


def activation_statistics(model, names: list, calibration_inputs: np.ndarray) -> dict:
    """{name: TensorStatistics} over the samples, one at a time (batch 1), graph optimizations off."""
    import onnx
    import onnxruntime

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {output.name for output in probe.graph.output}
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in names
                              if name not in existing)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    to_nhwc = nhwc_axes(model)
    statistics = {name: TensorStatistics() for name in names}
    for sample in calibration_inputs:
        for name, values in zip(names, session.run(names, {input_name: sample[None].astype(np.float32)})):
            statistics[name].add(np.transpose(values, to_nhwc[name]) if name in to_nhwc else values)
    return statistics


def nhwc_axes(model) -> dict:
    """{4-D tensor: the axes np.transpose takes to put it in the NHWC input's order}, followed through Transpose
    nodes; other ops with a 4-D output keep their first input's order, reshaping ops lose it."""
    ranks = {info.name: len(info.type.tensor_type.shape.dim) for info in (*model.graph.value_info,
                                                                          *model.graph.output)}
    axes = {graph_input.name: NHWC for graph_input in model.graph.input}
    for node in model.graph.node:
        source = axes.get(node.input[0]) if node.input else None
        if source is None or node.op_type in RESHAPING_OPS:
            continue
        if node.op_type == "Transpose":
            perm = next((attribute.ints for attribute in node.attribute if attribute.name == "perm"), (3, 2, 1, 0))
            inverse = np.argsort(perm)
            source = tuple(int(inverse[axis]) for axis in source)
        axes.update({name: source for name in node.output if ranks.get(name) == 4})
    return {name: order for name, order in axes.items() if order != NHWC}


def _input_copies(model) -> set:
    """The graph inputs and the tensors layout ops make of them alone."""
    copies = {graph_input.name for graph_input in model.graph.input}
    for node in model.graph.node:
        if node.op_type in LAYOUT_OPS and node.input and node.input[0] in copies:
            copies.update(node.output)
    return copies


def _ranged_by_output(model) -> dict:
    """{Clip or Relu input: its output} where that node is the input's only reader."""
    readers = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    return {node.input[0]: node.output[0] for node in model.graph.node
            if node.op_type in RANGE_FROM_OUTPUT_OPS and readers[node.input[0]] == 1}
