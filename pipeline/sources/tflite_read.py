"""Read what the pipeline needs from a .tflite flatbuffer: ops, input/output tensors, quantization.

No interpreter runs: the accessors generated from the TFLite schema (shipped with tflite-micro) read the
flatbuffer in place. The Python flatbuffers runtime does not verify a buffer, so every index taken from
the file is range-checked here, and anything the parser raises on garbage becomes a one-line ModelError.
"""
from dataclasses import dataclass

from mnd.pipeline.errors import ModelError

FILE_IDENTIFIER = b"TFL3"
# Ops with a weight tensor: op name -> (activation input index, weight input index).
WEIGHT_OPS = {"CONV_2D": (0, 1), "DEPTHWISE_CONV_2D": (0, 1), "FULLY_CONNECTED": (0, 1), "TRANSPOSE_CONV": (2, 1)}
REEXPORT = "re-export it with the TFLite converter (a .tflite file starts with a flatbuffer whose identifier is 'TFL3')"


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of subgraph 0. scale/zero_point: per-tensor quantization only (None when float);
    quantized_dimension: the channel axis of a per-channel quantized tensor (None otherwise)."""

    index: int
    name: str
    shape: tuple
    dtype: str
    scale: "float | None"
    zero_point: "int | None"
    quantized_dimension: "int | None"

    @property
    def quantized(self) -> bool:
        return self.scale is not None


@dataclass(frozen=True)
class TfliteModel:
    """`ops`: one name per operator of subgraph 0 in execution order ('CONV_2D', 'CUSTOM:<code>', ...).
    `softmax_input`: tensor index feeding the SOFTMAX that produces outputs[0], else None.
    `is_int8`: full-integer model, i.e. every conv/fully-connected op has int8 weights and int8 input."""

    source: str
    ops: tuple
    inputs: tuple
    outputs: tuple
    softmax_input: "int | None"
    is_int8: bool
    subgraphs: int
    tensors: int


class _Corrupt(Exception):
    """An inconsistency found while reading; turned into ModelError by read_tflite."""


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    return schema_fb


def _enum_names(enum_class) -> dict:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_") and isinstance(value, int)}


def read_tflite(data: bytes, source: str = "model") -> TfliteModel:
    """Parse `data` (the bytes of a .tflite file); `source` names it in error messages."""
    data = bytes(data)
    if len(data) < 8:
        raise ModelError(f"{source}: {len(data)} bytes is too short to be a TFLite model (truncated?); {REEXPORT}")
    if data[4:8] != FILE_IDENTIFIER:
        raise ModelError(f"{source}: not a TFLite model (file identifier {data[4:8]!r}, expected b'TFL3'); {REEXPORT}")
    try:
        return _read(data, source)
    except _Corrupt as error:
        raise ModelError(f"{source}: corrupt TFLite model ({error}); {REEXPORT}") from None
    except Exception as error:  # the unverified parser raises struct.error, IndexError, ValueError, ...
        raise ModelError(f"{source}: truncated or corrupt TFLite model ({type(error).__name__}: {error}); "
                         f"{REEXPORT}") from None


def unique_ops(model: TfliteModel) -> list:
    """The model's op names, sorted, each once."""
    return sorted(set(model.ops))


def _read(data: bytes, source: str) -> TfliteModel:
    schema = _schema()
    root = schema.Model.GetRootAs(data, 0)
    _check_buffers(root, len(data))
    if root.SubgraphsLength() < 1:
        raise _Corrupt("it has no subgraph")
    graph = root.Subgraphs(0)
    tensor_count = graph.TensorsLength()
    ops, op_inputs, op_outputs = [], [], []
    for position in range(graph.OperatorsLength()):
        operator = graph.Operators(position)
        ops.append(_op_name(root, operator.OpcodeIndex(), schema))
        op_inputs.append(_indices(operator.InputsLength(), operator.Inputs, tensor_count, optional=True))
        op_outputs.append(_indices(operator.OutputsLength(), operator.Outputs, tensor_count))
    inputs = _indices(graph.InputsLength(), graph.Inputs, tensor_count)
    outputs = _indices(graph.OutputsLength(), graph.Outputs, tensor_count)
    if not inputs or not outputs:
        raise _Corrupt("subgraph 0 declares no inputs or no outputs")
    types = _enum_names(schema.TensorType)
    info = {index: _tensor_info(graph, index, types) for index in {*inputs, *outputs}}
    return TfliteModel(
        source=source, ops=tuple(ops),
        inputs=tuple(info[index] for index in inputs), outputs=tuple(info[index] for index in outputs),
        softmax_input=_softmax_input(ops, op_inputs, op_outputs, outputs[0]),
        is_int8=_is_int8(graph, ops, op_inputs, types), subgraphs=root.SubgraphsLength(), tensors=tensor_count)


def _check_buffers(root, size: int):
    """Every weight buffer must lie inside the file: catches a file cut short inside its weights."""
    for position in range(root.BuffersLength()):
        buffer = root.Buffers(position)
        if buffer.DataLength():
            buffer.DataAsNumpy()  # np.frombuffer raises when the vector runs past the end
        if buffer.Offset() > 1 and buffer.Offset() + buffer.Size() > size:
            raise _Corrupt(f"buffer {position} ends at byte {buffer.Offset() + buffer.Size()} of {size}")


def _indices(length: int, getter, tensor_count: int, optional: bool = False) -> tuple:
    values = tuple(int(getter(position)) for position in range(length))
    for value in values:
        if not (0 <= value < tensor_count or (optional and value == -1)):
            raise _Corrupt(f"tensor index {value} is outside 0..{tensor_count - 1}")
    return values


def _op_name(root, opcode_index: int, schema) -> str:
    if not 0 <= opcode_index < root.OperatorCodesLength():
        raise _Corrupt(f"operator code {opcode_index} is outside 0..{root.OperatorCodesLength() - 1}")
    code = root.OperatorCodes(opcode_index)
    # Schema v3a: codes above 127 live in BuiltinCode, older files only fill the deprecated int8 field.
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + (code.CustomCode() or b"").decode("utf-8", "replace")
    return _enum_names(schema.BuiltinOperator).get(builtin, f"UNKNOWN_BUILTIN_{builtin}")


def _tensor_info(graph, index: int, types: dict) -> TensorInfo:
    tensor = graph.Tensors(index)
    shape = tuple(int(tensor.Shape(axis)) for axis in range(tensor.ShapeLength()))
    scale = zero_point = dimension = None
    quant = tensor.Quantization()
    if quant is not None and quant.ScaleLength() == 1:
        scale = float(quant.Scale(0))
        zero_point = int(quant.ZeroPoint(0)) if quant.ZeroPointLength() else 0
    elif quant is not None and quant.ScaleLength() > 1:
        dimension = int(quant.QuantizedDimension())
    return TensorInfo(index=index, name=(tensor.Name() or b"").decode("utf-8", "replace"), shape=shape,
                      dtype=types.get(tensor.Type(), f"type_{tensor.Type()}").lower(), scale=scale,
                      zero_point=zero_point, quantized_dimension=dimension)


def _softmax_input(ops, op_inputs, op_outputs, output: int):
    for name, inputs, outputs in zip(ops, op_inputs, op_outputs):
        if output in outputs:
            return inputs[0] if name == "SOFTMAX" and inputs else None
    return None


def _is_int8(graph, ops, op_inputs, types) -> bool:
    checked = 0
    for name, inputs in zip(ops, op_inputs):
        if name not in WEIGHT_OPS:
            continue
        for position in WEIGHT_OPS[name]:
            if position >= len(inputs) or inputs[position] < 0:
                raise _Corrupt(f"{name} has no input {position}")
            if types.get(graph.Tensors(inputs[position]).Type()) != "INT8":
                return False
        checked += 1
    return checked > 0
