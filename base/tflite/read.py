"""Read what the pipeline needs from a .tflite flatbuffer: ops, input/output tensors, quantization.

No interpreter runs: the object API generated from the TFLite schema (shipped with tflite-micro) unpacks the
flatbuffer. The Python flatbuffers runtime does not verify a buffer, so `load_tflite` is the one guarded layer:
unpacking follows every offset and length the schema defines, and what the runtime raises when one leads
outside the file becomes a one-line ModelError there (nowhere else); then every index the file stores (op
codes, tensors, buffers) is range-checked. Bytes that `load_tflite` accepts can be walked again, with the
accessors or the object API, without a low-level exception.
"""
import functools
import struct
from dataclasses import dataclass

from mnd.base.errors import ModelError

FILE_IDENTIFIER = b"TFL3"
# Ops with a weight tensor: op name -> (activation input index, weight input index).
WEIGHT_OPS = {"CONV_2D": (0, 1), "DEPTHWISE_CONV_2D": (0, 1), "FULLY_CONNECTED": (0, 1), "TRANSPOSE_CONV": (2, 1)}
REEXPORT = "re-export it with the TFLite converter (a .tflite file starts with a flatbuffer whose identifier is 'TFL3')"
CORRUPT_FIX = "use an intact copy of the file or re-export it with the TFLite converter"
# What the flatbuffers runtime raises when an offset or a length leads outside the buffer: struct.error (a read
# past the end), TypeError (an offset beyond 32 bits, from flatbuffers' number checks), ValueError
# (np.frombuffer past the end). Caught around unpacking only, so a bug of ours still shows as one.
OUT_OF_RANGE = (struct.error, TypeError, ValueError)


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
    """An index or size in the file that contradicts the rest of it; load_tflite turns it into ModelError."""


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    return schema_fb


@functools.cache
def _enum_names(enum_class) -> dict:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_") and isinstance(value, int)}


def load_tflite(data: bytes, source: str = "model"):
    """The schema's object tree (ModelT) of `data`, the bytes of a .tflite file, after checking that every
    offset, length and stored index lies in range; `source` names the file in error messages."""
    data = bytes(data)
    if len(data) < 8:
        raise ModelError(f"{source}: {len(data)} bytes is too short to be a TFLite model (truncated?); {REEXPORT}")
    if data[4:8] != FILE_IDENTIFIER:
        raise ModelError(f"{source}: not a TFLite model (file identifier {data[4:8]!r}, expected b'TFL3'); {REEXPORT}")
    try:
        model = _schema().ModelT.InitFromPackedBuf(data, 0)
    except OUT_OF_RANGE:
        raise ModelError(f"{source}: truncated or corrupt TFLite model (an offset or length in its tables points "
                         f"outside its {len(data)} bytes); {CORRUPT_FIX}") from None
    try:
        _check_ranges(model, len(data))
    except _Corrupt as error:
        raise _corrupt(source, error) from None
    return model


def read_tflite(data: bytes, source: str = "model") -> TfliteModel:
    """Parse `data` (the bytes of a .tflite file); `source` names it in error messages."""
    return describe(load_tflite(data, source), source)


def describe(model, source: str) -> TfliteModel:
    """What the pipeline needs from a ModelT that load_tflite returned."""
    try:
        return _describe(model, source)
    except _Corrupt as error:
        raise _corrupt(source, error) from None


def _corrupt(source: str, error: _Corrupt) -> ModelError:
    return ModelError(f"{source}: corrupt TFLite model ({error}); {CORRUPT_FIX}")


def unique_ops(model: TfliteModel) -> list:
    """The model's op names, sorted, each once."""
    return sorted(set(model.ops))


def _ints(vector) -> tuple:
    """An unpacked int vector (numpy array, list, or None when absent) as a tuple of ints."""
    return () if vector is None else tuple(int(value) for value in vector)


def _check_ranges(model, size: int):
    """Every op code, tensor and buffer index in range, every buffer inside the file, no negative dimension."""
    buffers, codes = len(model.buffers or ()), len(model.operatorCodes or ())
    for position, buffer in enumerate(model.buffers or ()):
        if buffer.offset > 1 and buffer.offset + buffer.size > size:
            raise _Corrupt(f"buffer {position} ends at byte {buffer.offset + buffer.size} of {size}")
    for entry in model.metadata or ():
        _check_range(entry.buffer, buffers, "metadata buffer")
    for graph in model.subgraphs or ():
        tensors = graph.tensors or ()
        for tensor in tensors:
            _check_range(tensor.buffer, buffers, "buffer")
            if min(_ints(tensor.shape), default=0) < 0:
                raise _Corrupt(f"tensor shape {_shown(_ints(tensor.shape))} has a negative dimension")
        for value in (*_ints(graph.inputs), *_ints(graph.outputs)):
            _check_range(value, len(tensors), "tensor index")
        for operator in graph.operators or ():
            _check_range(operator.opcodeIndex, codes, "operator code")
            for value in _ints(operator.inputs):
                if value != -1:  # -1: an optional input left out
                    _check_range(value, len(tensors), "tensor index")
            for value in _ints(operator.outputs):
                _check_range(value, len(tensors), "tensor index")


def _check_range(value: int, count: int, what: str):
    if not 0 <= value < count:
        raise _Corrupt(f"{what} {value} is outside 0..{count - 1}" if count else f"{what} {value} but there are none")


def _describe(model, source: str) -> TfliteModel:
    schema = _schema()
    if not model.subgraphs:
        raise _Corrupt("it has no subgraph")
    graph = model.subgraphs[0]
    tensors = graph.tensors or []
    ops = [_op_name(model.operatorCodes[operator.opcodeIndex], schema) for operator in graph.operators or ()]
    op_inputs = [_ints(operator.inputs) for operator in graph.operators or ()]
    op_outputs = [_ints(operator.outputs) for operator in graph.operators or ()]
    inputs, outputs = _ints(graph.inputs), _ints(graph.outputs)
    if not inputs or not outputs:
        raise _Corrupt("subgraph 0 declares no inputs or no outputs")
    types = _enum_names(schema.TensorType)
    info = {index: _tensor_info(tensors[index], index, types) for index in {*inputs, *outputs}}
    return TfliteModel(
        source=source, ops=tuple(ops),
        inputs=tuple(info[index] for index in inputs), outputs=tuple(info[index] for index in outputs),
        softmax_input=_softmax_input(ops, op_inputs, op_outputs, outputs[0]),
        is_int8=_is_int8(tensors, ops, op_inputs, types), subgraphs=len(model.subgraphs), tensors=len(tensors))


def _op_name(code, schema) -> str:
    # Schema v3a: codes above 127 live in builtinCode, older files only fill the deprecated int8 field.
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == schema.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + (code.customCode or b"").decode("utf-8", "replace")
    return _enum_names(schema.BuiltinOperator).get(builtin, f"UNKNOWN_BUILTIN_{builtin}")


def _tensor_info(tensor, index: int, types: dict) -> TensorInfo:
    scale = zero_point = dimension = None
    quant = tensor.quantization
    scales = _floats(quant.scale) if quant is not None else ()
    if len(scales) == 1:
        scale, zero_point = scales[0], (_ints(quant.zeroPoint) or (0,))[0]
    elif len(scales) > 1:
        dimension = int(quant.quantizedDimension)
    return TensorInfo(index=index, name=(tensor.name or b"").decode("utf-8", "replace"), shape=_ints(tensor.shape),
                      dtype=types.get(tensor.type, f"type_{tensor.type}").lower(), scale=scale,
                      zero_point=zero_point, quantized_dimension=dimension)


def _floats(vector) -> tuple:
    return () if vector is None else tuple(float(value) for value in vector)


def _softmax_input(ops, op_inputs, op_outputs, output: int):
    for name, inputs, outputs in zip(ops, op_inputs, op_outputs):
        if output in outputs:
            return inputs[0] if name == "SOFTMAX" and inputs else None
    return None


def _is_int8(tensors, ops, op_inputs, types) -> bool:
    checked = 0
    for name, inputs in zip(ops, op_inputs):
        if name not in WEIGHT_OPS:
            continue
        for position in WEIGHT_OPS[name]:
            if position >= len(inputs) or inputs[position] < 0:
                raise _Corrupt(f"{name} has no input {position}")
            if types.get(tensors[inputs[position]].type) != "INT8":
                return False
        checked += 1
    return checked > 0


def _shown(dims, most: int = 8) -> str:
    """A shape for a message: a corrupt one can hold millions of dimensions."""
    dims = list(dims)
    return str(dims) if len(dims) <= most else f"{str(dims[:most])[:-1]}, ... ({len(dims)} dimensions)]"
