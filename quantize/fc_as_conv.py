"""Rewrite int8 FULLY_CONNECTED ops as RESHAPE -> 1x1 CONV_2D -> RESHAPE in a converted .tflite model.

LiteRT's reference int8 FULLY_CONNECTED rounds the requantization once where TFLite-Micro rounds twice (both
round twice for CONV_2D), so the two differ by 1 LSB on roughly one output in 256 (found on vww_96.h5 and on a
SavedModel export). A 1x1 convolution over a 1x1 map with the same int8 weights, bias and scales is the same
function, and both runtimes compute it identically. Weights keep their bytes: [units, in] is [units, 1, 1, in].
"""
import numpy as np

from pipeline.tflite_fix import pack_model


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    return schema_fb


def _opcode_index(model, schema, builtin: int, version: int) -> int:
    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            code.version = max(code.version, version)
            return index
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _add_tensor(model, graph, schema, like, shape, name: bytes) -> int:
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name, tensor.quantization = np.asarray(shape, np.int32), like.type, name, like.quantization
    tensor.buffer = len(model.buffers)
    model.buffers.append(schema.BufferT())
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _reshape(model, graph, schema, source: int, target: int) -> object:
    shape_tensor = schema.TensorT()
    shape = np.asarray(graph.tensors[target].shape, np.int32)
    shape_tensor.shape, shape_tensor.type = np.asarray([len(shape)], np.int32), schema.TensorType.INT32
    shape_tensor.name = graph.tensors[target].name + b"/shape"
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(shape.tobytes(), np.uint8)
    shape_tensor.buffer = len(model.buffers)
    model.buffers.append(buffer)
    graph.tensors.append(shape_tensor)
    op = schema.OperatorT()
    op.opcodeIndex = _opcode_index(model, schema, schema.BuiltinOperator.RESHAPE, 1)
    op.inputs, op.outputs = np.asarray([source, len(graph.tensors) - 1], np.int32), np.asarray([target], np.int32)
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.ReshapeOptions, schema.ReshapeOptionsT()
    op.builtinOptions.newShape = shape
    return op


def _is_rewritable(model, graph, schema, op) -> bool:
    code = model.operatorCodes[op.opcodeIndex]
    if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.FULLY_CONNECTED:
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
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name = np.asarray([units], np.int32), schema.TensorType.INT32, w.name + b"/zero_bias"
    tensor.quantization = schema.QuantizationParametersT()
    tensor.quantization.scale = (np.asarray(w.quantization.scale, np.float64) * x.quantization.scale[0]).astype(np.float32)
    tensor.quantization.zeroPoint = np.zeros(units, np.int64)
    buffer = schema.BufferT()
    buffer.data = np.zeros(units * 4, np.uint8)
    tensor.buffer = len(model.buffers)
    model.buffers.append(buffer)
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _as_conv(model, graph, schema, op) -> list:
    x_index, w_index = int(op.inputs[0]), int(op.inputs[1])
    y_index = int(op.outputs[0])
    x, w, y = graph.tensors[x_index], graph.tensors[w_index], graph.tensors[y_index]
    units, width = int(w.shape[0]), int(w.shape[1])
    x_map = _add_tensor(model, graph, schema, x, [1, 1, 1, width], x.name + b"/as_map")
    y_map = _add_tensor(model, graph, schema, y, [1, 1, 1, units], y.name + b"/as_map")
    w.shape = np.asarray([units, 1, 1, width], np.int32)
    _per_channel(w.quantization, units)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        _per_channel(graph.tensors[op.inputs[2]].quantization, units)
    conv = schema.OperatorT()
    conv.opcodeIndex = _opcode_index(model, schema, schema.BuiltinOperator.CONV_2D, 3)
    bias = [int(i) for i in op.inputs[2:] if i >= 0] or [_zero_bias(model, graph, schema, x, w, units)]
    conv.inputs = np.asarray([x_map, w_index, *bias], np.int32)
    conv.outputs = np.asarray([y_map], np.int32)
    conv.builtinOptionsType, conv.builtinOptions = schema.BuiltinOptions.Conv2DOptions, schema.Conv2DOptionsT()
    conv.builtinOptions.padding, conv.builtinOptions.strideW, conv.builtinOptions.strideH = schema.Padding.VALID, 1, 1
    conv.builtinOptions.fusedActivationFunction = op.builtinOptions.fusedActivationFunction
    return [_reshape(model, graph, schema, x_index, x_map), conv, _reshape(model, graph, schema, y_map, y_index)]


def fully_connected_as_conv(data: bytes) -> bytes:
    """The model with every rewritable int8 FULLY_CONNECTED replaced; the same bytes when there is none."""
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
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
    return pack_model(model) if changed else data
