"""Rewrite int8 FULLY_CONNECTED ops as RESHAPE -> 1x1 CONV_2D -> RESHAPE in a converted .tflite model.

LiteRT's reference int8 FULLY_CONNECTED rounds the requantization once where TFLite-Micro rounds twice (both
round twice for CONV_2D), so the two differ by 1 LSB on roughly one output in 256 (found on vww_96.h5 and on a
SavedModel export). A 1x1 convolution over a 1x1 map with the same int8 weights, bias and scales is the same
function, and both runtimes compute it identically. Weights keep their bytes: [units, in] is [units, 1, 1, in].
"""
import numpy as np

from mnd.quantize import tflite_edit


def _add_activation(model, graph, schema, like, shape, name: bytes) -> int:
    """A new activation tensor with `like`'s type and quantization."""
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name = np.asarray(shape, np.int32), like.type, name
    tensor.quantization = like.quantization
    tensor.buffer = len(model.buffers)
    model.buffers.append(schema.BufferT())
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _is_rewritable(model, graph, schema, op) -> bool:
    if tflite_edit.builtin(model, op) != schema.BuiltinOperator.FULLY_CONNECTED:
        return False
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    y = graph.tensors[op.outputs[0]]
    options = op.builtinOptions
    return (x.type == w.type == y.type == schema.TensorType.INT8 and len(w.shape) == 2 and len(y.shape) == 2
            and int(np.prod(x.shape)) == int(w.shape[1]) and int(y.shape[0]) == 1 and not options.keepNumDims
            and graph.tensors[op.inputs[1]].buffer and model.buffers[w.buffer].data is not None)


def _per_channel(quantization, units: int) -> None:
    """int8 CONV_2D wants one scale per output channel; a per-tensor FC scale is repeated (same values)."""
    if quantization is not None and quantization.scale is not None and len(quantization.scale) == 1 and units > 1:
        quantization.scale = np.repeat(np.asarray(quantization.scale, np.float32), units)
        quantization.zeroPoint = np.repeat(np.asarray(quantization.zeroPoint, np.int64), units)
        quantization.quantizedDimension = 0


def _zero_bias(model, graph, schema, x, w, units: int) -> int:
    """int8 CONV_2D requires a bias (FC does not): zeros, scaled input_scale * weight_scale per channel."""
    quantization = schema.QuantizationParametersT()
    quantization.scale = (np.asarray(w.quantization.scale, np.float64) * x.quantization.scale[0]).astype(np.float32)
    quantization.zeroPoint = np.zeros(units, np.int64)
    return tflite_edit.add_constant(model, graph, np.zeros(units, np.int32), schema.TensorType.INT32,
                                    w.name + b"/zero_bias", quantization)


def _as_conv(model, graph, schema, op) -> list:
    x_index, w_index = int(op.inputs[0]), int(op.inputs[1])
    y_index = int(op.outputs[0])
    x, w, y = graph.tensors[x_index], graph.tensors[w_index], graph.tensors[y_index]
    units, width = int(w.shape[0]), int(w.shape[1])
    x_map = _add_activation(model, graph, schema, x, [1, 1, 1, width], x.name + b"/as_map")
    y_map = _add_activation(model, graph, schema, y, [1, 1, 1, units], y.name + b"/as_map")
    w.shape = np.asarray([units, 1, 1, width], np.int32)
    _per_channel(w.quantization, units)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        _per_channel(graph.tensors[op.inputs[2]].quantization, units)
    conv = schema.OperatorT()
    conv.opcodeIndex = tflite_edit.opcode_index(model, schema.BuiltinOperator.CONV_2D, 3)
    bias = [int(i) for i in op.inputs[2:] if i >= 0] or [_zero_bias(model, graph, schema, x, w, units)]
    conv.inputs = np.asarray([x_map, w_index, *bias], np.int32)
    conv.outputs = np.asarray([y_map], np.int32)
    conv.builtinOptionsType, conv.builtinOptions = schema.BuiltinOptions.Conv2DOptions, schema.Conv2DOptionsT()
    conv.builtinOptions.padding, conv.builtinOptions.strideW, conv.builtinOptions.strideH = schema.Padding.VALID, 1, 1
    conv.builtinOptions.fusedActivationFunction = op.builtinOptions.fusedActivationFunction
    return [tflite_edit.reshape_op(model, graph, x_index, x_map), conv, tflite_edit.reshape_op(model, graph, y_map, y_index)]


def fully_connected_as_conv(data: bytes) -> bytes:
    """The model with every rewritable int8 FULLY_CONNECTED replaced; the same bytes when there is none."""
    schema = tflite_edit.schema()
    model = tflite_edit.load(data)
    changed = False
    for graph in model.subgraphs:
        operators = []
        for op in graph.operators:
            if _is_rewritable(model, graph, schema, op):
                operators.extend(_as_conv(model, graph, schema, op))
                changed = True
            else:
                operators.append(op)
        graph.operators = operators
    return tflite_edit.pack(model) if changed else data
