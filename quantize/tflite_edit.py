"""Small edits of a converted .tflite through the flatbuffer object API (shared by the graph rewrites)."""
import numpy as np


def schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    return schema_fb


def load(data: bytes):
    fb = schema()
    return fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))


def pack(model) -> bytes:
    from mnd.base.tflite.repair import pack_model

    return pack_model(model)


def builtin(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def opcode_index(model, code: int, version: int) -> int:
    for index, existing in enumerate(model.operatorCodes):
        if max(existing.builtinCode, existing.deprecatedBuiltinCode) == code:
            existing.version = max(existing.version, version)
            return index
    entry = schema().OperatorCodeT()
    entry.builtinCode, entry.deprecatedBuiltinCode, entry.version = code, min(code, 127), version
    model.operatorCodes.append(entry)
    return len(model.operatorCodes) - 1


def add_constant(model, graph, values: np.ndarray, tensor_type: int, name: bytes, quantization=None) -> int:
    """A constant tensor holding `values` (their bytes as stored), appended to the graph; its index."""
    fb = schema()
    tensor = fb.TensorT()
    tensor.shape, tensor.type, tensor.name = np.asarray(values.shape, np.int32), tensor_type, name
    tensor.quantization = quantization
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(np.ascontiguousarray(values).tobytes(), np.uint8)
    tensor.buffer = len(model.buffers)
    model.buffers.append(buffer)
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def reshape_op(model, graph, source: int, target: int):
    """RESHAPE source -> target to the target tensor's own static shape."""
    fb = schema()
    shape = np.asarray(graph.tensors[target].shape, np.int32)
    shape_tensor = add_constant(model, graph, shape, fb.TensorType.INT32, graph.tensors[target].name + b"/shape")
    op = fb.OperatorT()
    op.opcodeIndex = opcode_index(model, fb.BuiltinOperator.RESHAPE, 1)
    op.inputs, op.outputs = np.asarray([source, shape_tensor], np.int32), np.asarray([target], np.int32)
    op.builtinOptionsType, op.builtinOptions = fb.BuiltinOptions.ReshapeOptions, fb.ReshapeOptionsT()
    op.builtinOptions.newShape = shape
    return op
