"""Make .tflite files that one runtime refuses loadable by another: two explicit, separate operations.

`repair_tflite` fixes invalid quantization metadata (TFLM's person_detect.tflite sets quantized_dimension 3
on 1-D depthwise biases; LiteRT refuses that). It is lossless: the scalar field is patched in place, so the
rest of the file stays byte-identical.

`requantize_uint8_to_int8` turns a uint8 quantization-aware-trained model (Coral MobileNets) into a
full-integer int8 model TFLM can run. Activations move exactly (zero point - 128); weights are requantized
symmetric per-channel, which is LOSSY, so the caller must measure the accuracy it costs.
"""
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnd.base.errors import ModelError
from mnd.base.tempdirs import temporary_directory
from mnd.base.tflite.read import CORRUPT_FIX, FILE_IDENTIFIER, describe, load_tflite

# QuantizationParameters.quantized_dimension is field id 6: vtable slot offset 4 + 2 * 6.
QUANTIZED_DIMENSION_SLOT = 16
# op -> (output-channel axis of the filter) for ops with weights; None: activation-only ops.
INT8_OPS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "AVERAGE_POOL_2D": None, "RESHAPE": None,
            "SQUEEZE": None, "SOFTMAX": None, "ADD": None}  # ADD (V2's residuals): both kernels requantize (q - z)
TWO_INPUT_OPS = ("ADD",)
SAME_QUANT_OPS = ("AVERAGE_POOL_2D", "RESHAPE", "SQUEEZE")  # int8 kernels copy/average raw values
# Op versions the TFLite converter writes for int8 (per-channel) kernels; LiteRT checks them at load.
INT8_OP_VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "AVERAGE_POOL_2D": 2, "SOFTMAX": 2, "RESHAPE": 1,
                    "SQUEEZE": 1, "ADD": 2}
INT8_MIN_RUNTIME = b"1.14.0"  # first TFLite release with the op versions above
SOFTMAX_INT8_SCALE, SOFTMAX_INT8_ZERO_POINT = 1.0 / 256.0, -128  # required by LiteRT and TFLM kernels
REEXPORT = "re-export the model with the TFLite converter"


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    return schema_fb


# ----------------------------------------------------------------------------- repair_tflite
@dataclass(frozen=True)
class _Fix:
    subgraph: int
    tensor: int
    name: str
    old: int
    new: int
    position: "int | None"  # byte offset of the stored int32 field; None when the vtable omits it

    def describe(self) -> str:
        return (f"subgraph {self.subgraph} tensor {self.tensor} '{self.name}': quantized_dimension "
                f"{self.old} -> {self.new}")


def repair_tflite(data: bytes, source: str) -> "tuple[bytes, list[str]]":
    """Fix quantization whose quantized_dimension/scale count does not fit the tensor shape.
    Returns (bytes, one line per repaired tensor); an intact model comes back unchanged with []."""
    data = bytes(data)
    model = load_tflite(data, source)  # identifier, offsets, indices, truncation: one-line ModelError
    describe(model, source)  # and what every later stage reads from it
    fixes = _find_fixes(model, data, source)
    if not fixes:
        return data, []
    if all(fix.position is not None for fix in fixes):
        patched = bytearray(data)
        for fix in fixes:
            struct.pack_into("<i", patched, fix.position, fix.new)
        return bytes(patched), [fix.describe() for fix in fixes]
    return _rebuild_with_fixes(model, fixes), [fix.describe() for fix in fixes]


def _find_fixes(model, data: bytes, source: str) -> list:
    fixes = []
    for graph_index, graph in enumerate(model.subgraphs or ()):
        for index, tensor in enumerate(graph.tensors or ()):
            if _needs_fix(tensor, index, source):
                fixes.append(_Fix(graph_index, index, _name(tensor), int(tensor.quantization.quantizedDimension), 0,
                                  _dimension_position(data, graph_index, index)))
    return fixes


def _needs_fix(tensor, index: int, source: str) -> bool:
    quant = tensor.quantization
    if quant is None or quant.scale is None or len(quant.scale) == 0:
        return False
    shape = _shape(tensor)
    dim, count = int(quant.quantizedDimension), len(quant.scale)
    if not shape or (0 <= dim < len(shape) and count in (1, shape[dim])):
        return False  # valid (LiteRT skips these checks for scalars)
    if count != 1 and not (len(shape) == 1 and count == shape[0]):
        raise ModelError(f"{source}: tensor {index} '{_name(tensor)}' (shape {shape}) has {count} quantization "
                         f"scales along dimension {dim}, which does not match its shape and cannot be repaired; "
                         f"{REEXPORT}")
    return True


def _dimension_position(data: bytes, graph_index: int, index: int) -> "int | None":
    """Byte offset of the stored quantized_dimension, None when the vtable omits it. The accessors are safe
    here: load_tflite has followed every offset on the way."""
    quant = _schema().Model.GetRootAs(data, 0).Subgraphs(graph_index).Tensors(index).Quantization()
    offset = quant._tab.Offset(QUANTIZED_DIMENSION_SLOT)
    return quant._tab.Pos + offset if offset else None


def _shape(tensor) -> list:
    return [] if tensor.shape is None else [int(size) for size in tensor.shape]


def _name(tensor) -> str:
    return (tensor.name or b"").decode("utf-8", "replace")


def _rebuild_with_fixes(model, fixes: list) -> bytes:
    """Fallback when a field is absent from its vtable (nothing to patch): rebuild via the object API."""
    for fix in fixes:
        model.subgraphs[fix.subgraph].tensors[fix.tensor].quantization.quantizedDimension = fix.new
    return pack_model(model)


# ----------------------------------------------------------------------------- packing
def pack_model(model) -> bytes:
    """A schema ModelT as .tflite bytes (file identifier TFL3) with 16-byte aligned weight buffers: the object API
    packs it, TFLite-Micro's aligning writer (C++ flatbuffers honouring the schema's force_align) repacks it."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.tools import tflite_flatbuffer_align_wrapper

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    with temporary_directory("mnd-align-") as tmp:
        packed, aligned = Path(tmp) / "packed.tflite", Path(tmp) / "aligned.tflite"
        packed.write_bytes(builder.Output())
        tflite_flatbuffer_align_wrapper.align_tflite_model(str(packed), str(aligned))
        return aligned.read_bytes()


# ----------------------------------------------------------------------------- requantize_uint8_to_int8
def requantize_uint8_to_int8(data: bytes, source: str) -> bytes:
    """LOSSY: uint8 QAT model -> full-integer int8 (activations exact, weights symmetric per-channel)."""
    model = load_tflite(data, source)  # offsets and indices checked: one-line ModelError
    info = describe(model, source)
    if info.inputs[0].dtype != "uint8" or info.subgraphs != 1:
        raise ModelError(f"{source}: input is {info.inputs[0].dtype} in {info.subgraphs} subgraph(s); "
                         "requantize_uint8_to_int8 converts single-subgraph uint8 quantized models only "
                         "(an int8 model needs no conversion)")
    schema = _schema()
    graph, names = model.subgraphs[0], list(info.ops)
    _check_ops(graph, names, source)
    weights = _weight_tensors(graph, names, source)
    _shift_activations(model, graph, weights, schema)
    _fix_activation_quant(graph, names, schema)
    for op, name in zip(graph.operators, names):
        if INT8_OPS[name] is not None:
            _requantize_weights(model, graph, op, INT8_OPS[name], schema, source)
    _mark_int8(model, names, schema)
    return pack_model(model)


def _tensor_name(graph, index: int) -> str:
    return _name(graph.tensors[index])


def _corrupt(source: str, what: str) -> ModelError:
    return ModelError(f"{source}: {what}, which the TFLite converter never writes (a corrupt file?); {CORRUPT_FIX}")


def _check_ops(graph, names: list, source: str):
    """Every op supported, each with the inputs and output the conversion reads."""
    if not graph.operators:
        raise _corrupt(source, "subgraph 0 has no operators")
    for position, (op, name) in enumerate(zip(graph.operators, names)):
        outputs = [] if op.outputs is None else list(op.outputs)
        if name not in INT8_OPS:
            layer = _tensor_name(graph, outputs[0]) if outputs else "?"
            raise ModelError(f"{source}: operator {position} ({name}, layer '{layer}') has no uint8 -> int8 "
                             f"conversion here (supported: {', '.join(sorted(INT8_OPS))}); convert the float "
                             "model with the TFLite converter's full-integer quantization instead")
        # the activation, and the filter of ops with weights (or ADD's second operand)
        needed = 1 if INT8_OPS[name] is None and name not in TWO_INPUT_OPS else 2
        inputs = [] if op.inputs is None else list(op.inputs)
        if not outputs or len(inputs) < needed or min(inputs[:needed]) < 0:
            raise _corrupt(source, f"operator {position} ({name}) lacks an input or output it needs")
        quant = graph.tensors[inputs[0]].quantization
        if name in SAME_QUANT_OPS and (quant is None or quant.scale is None or quant.zeroPoint is None):
            raise _corrupt(source, f"the input of operator {position} ({name}) is not quantized")


def _weight_tensors(graph, names: list, source: str) -> set:
    """Filter and bias tensor indices; each must feed exactly one op (its bias scale depends on that op)."""
    used = np.bincount([i for op in graph.operators for i in op.inputs if i >= 0], minlength=len(graph.tensors))
    found = set()
    for op, name in zip(graph.operators, names):
        if INT8_OPS[name] is None:
            continue
        for index in [int(i) for i in op.inputs[1:3] if i >= 0]:
            if used[index] != 1:
                raise ModelError(f"{source}: weight tensor '{_tensor_name(graph, index)}' feeds {used[index]} "
                                 f"operators; requantizing it per operator is not supported; {REEXPORT}")
            found.add(index)
    return found


def _shift_activations(model, graph, weights: set, schema):
    """uint8 (scale s, zp z) -> int8 (scale s, zp z - 128): exact, for activations and constant data alike."""
    for index, tensor in enumerate(graph.tensors):
        if index in weights or tensor.type != schema.TensorType.UINT8:
            continue
        tensor.type = schema.TensorType.INT8
        if tensor.quantization is not None and tensor.quantization.zeroPoint is not None:
            tensor.quantization.zeroPoint = [int(z) - 128 for z in tensor.quantization.zeroPoint]
        buffer = model.buffers[tensor.buffer]
        if buffer.data is not None and len(buffer.data):
            shifted = np.asarray(buffer.data, np.uint8).astype(np.int16) - 128
            buffer.data = shifted.astype(np.int8).view(np.uint8)


def _fix_activation_quant(graph, names: list, schema):
    """int8 SOFTMAX outputs need scale 1/256, zp -128; pooling and reshapes pass raw values through, so
    their output must carry their input's quantization (set in execution order, so it propagates)."""
    for op, name in zip(graph.operators, names):
        output = graph.tensors[op.outputs[0]]
        if name == "SOFTMAX":
            output.quantization = _quant(schema, [SOFTMAX_INT8_SCALE], [SOFTMAX_INT8_ZERO_POINT], 0)
        elif name in SAME_QUANT_OPS:
            source_quant = graph.tensors[op.inputs[0]].quantization
            output.quantization = _quant(schema, list(source_quant.scale), list(source_quant.zeroPoint), 0)


def _quant(schema, scale: list, zero_point: list, dimension: int):
    quant = schema.QuantizationParametersT()
    quant.scale, quant.zeroPoint, quant.quantizedDimension = scale, zero_point, dimension
    return quant


def _per_tensor_scale(graph, index: int, source: str) -> float:
    quant = graph.tensors[index].quantization
    if quant is None or quant.scale is None or len(quant.scale) != 1:
        raise ModelError(f"{source}: activation '{_tensor_name(graph, index)}' is not per-tensor quantized; "
                         f"{REEXPORT}")
    if not (np.isfinite(quant.scale[0]) and quant.scale[0] > 0):
        raise _corrupt(source, f"activation '{_tensor_name(graph, index)}' has scale {quant.scale[0]}")
    return float(quant.scale[0])


def _constant(model, graph, index: int, dtype: str, source: str) -> np.ndarray:
    tensor = graph.tensors[index]
    buffer = model.buffers[tensor.buffer]
    quant, name = tensor.quantization, _tensor_name(graph, index)
    if quant is None or quant.scale is None or buffer.data is None:
        raise ModelError(f"{source}: weight tensor '{name}' is not a quantized constant; {REEXPORT}")
    shape = tuple(int(size) for size in (tensor.shape if tensor.shape is not None else ()))
    raw = np.asarray(buffer.data, np.uint8).tobytes()
    if len(raw) != int(np.prod(shape)) * np.dtype(dtype).itemsize or min(shape, default=0) < 1:
        raise _corrupt(source, f"weight tensor '{name}' has shape {list(shape)} and {len(raw)} bytes of {dtype}")
    if not _quantization_fits(quant, shape):
        raise _corrupt(source, f"weight tensor '{name}' (shape {list(shape)}) has {len(quant.scale)} scales and "
                               f"{0 if quant.zeroPoint is None else len(quant.zeroPoint)} zero points along "
                               f"dimension {quant.quantizedDimension}")
    return np.frombuffer(raw, dtype).reshape(shape)


def _quantization_fits(quant, shape: tuple) -> bool:
    """Positive finite scales, one or one per channel of the quantized dimension; zero points likewise."""
    scales, zeros = len(quant.scale), 0 if quant.zeroPoint is None else len(quant.zeroPoint)
    per_channel = 0 <= quant.quantizedDimension < len(shape) and shape[quant.quantizedDimension] == scales
    finite = bool(np.all(np.isfinite(quant.scale)) and np.all(np.asarray(quant.scale) > 0))
    return finite and (scales == 1 or per_channel) and zeros in (0, 1, scales)


def _dequantize(values: np.ndarray, quant) -> np.ndarray:
    """Float values of a quantized array, per-tensor or per-channel along quant.quantizedDimension."""
    scale = np.asarray(quant.scale, np.float64)
    zero = np.asarray(quant.zeroPoint if quant.zeroPoint is not None else [0], np.float64)
    if scale.size > 1:
        shape = [1] * values.ndim
        shape[quant.quantizedDimension] = scale.size
        scale, zero = scale.reshape(shape), np.broadcast_to(zero, scale.shape).reshape(shape)
    return (values.astype(np.float64) - zero) * scale


def symmetric_per_channel(weights: np.ndarray, axis: int, exact_scales=None) -> "tuple[np.ndarray, np.ndarray]":
    """(int8 values in -127..127, float32 scale per channel along `axis`); zero point 0. A channel whose
    values are all k * exact_scales[c] with |k| <= 127 keeps that scale, and so moves without loss."""
    moved = np.moveaxis(weights, axis, 0).reshape(weights.shape[axis], -1)
    bound = np.abs(moved).max(axis=1)
    scales = np.where(bound > 0, bound / 127.0, 1.0)
    if exact_scales is not None:
        steps = moved / np.asarray(exact_scales, np.float64)[:, None]
        exact = (np.abs(steps).max(axis=1) <= 127) & np.all(np.abs(steps - np.round(steps)) < 1e-3, axis=1)
        scales = np.where(exact, exact_scales, scales)
    scales = scales.astype(np.float32)
    shape = [1] * weights.ndim
    shape[axis] = scales.size
    values = np.clip(np.round(weights / scales.astype(np.float64).reshape(shape)), -127, 127)
    return values.astype(np.int8), scales


def _exact_scales(quant, shape: tuple, axis: int):
    """The old scale per output channel, when the old quantization is per-tensor or along `axis`."""
    if len(quant.scale) == 1:
        return np.full(shape[axis], float(quant.scale[0]))
    return np.asarray(quant.scale, np.float64) if quant.quantizedDimension == axis else None


def _requantize_weights(model, graph, op, axis: int, schema, source: str):
    input_scale = _per_tensor_scale(graph, op.inputs[0], source)
    filter_tensor = graph.tensors[op.inputs[1]]
    if filter_tensor.type != schema.TensorType.UINT8:
        raise ModelError(f"{source}: filter '{_tensor_name(graph, op.inputs[1])}' is not uint8; {REEXPORT}")
    floats = _dequantize(_constant(model, graph, op.inputs[1], "u1", source), filter_tensor.quantization)
    if floats.ndim != 4:
        raise _corrupt(source, f"filter '{_tensor_name(graph, op.inputs[1])}' has shape {list(floats.shape)}")
    values, scales = symmetric_per_channel(floats, axis, _exact_scales(filter_tensor.quantization, floats.shape, axis))
    _store(model, filter_tensor, values, schema.TensorType.INT8,
           _quant(schema, scales.tolist(), [0] * scales.size, axis))
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        _requantize_bias(model, graph, int(op.inputs[2]), input_scale * scales.astype(np.float64), schema, source)


def _requantize_bias(model, graph, index: int, scales: np.ndarray, schema, source: str):
    bias = graph.tensors[index]
    if bias.type != schema.TensorType.INT32:
        raise ModelError(f"{source}: bias '{_tensor_name(graph, index)}' is not int32; {REEXPORT}")
    floats = _dequantize(_constant(model, graph, index, "<i4", source), bias.quantization)
    if floats.shape != scales.shape:
        raise _corrupt(source, f"bias '{_tensor_name(graph, index)}' has shape {list(floats.shape)} for "
                               f"{scales.size} output channels")
    bound = np.iinfo(np.int32)
    values = np.clip(np.round(floats / scales), bound.min, bound.max).astype("<i4")
    _store(model, bias, values, schema.TensorType.INT32,
           _quant(schema, scales.astype(np.float32).tolist(), [0] * scales.size, 0))


def _store(model, tensor, values: np.ndarray, tensor_type: int, quant):
    tensor.type, tensor.quantization = tensor_type, quant
    model.buffers[tensor.buffer].data = np.frombuffer(values.tobytes(), np.uint8)


def _mark_int8(model, names: list, schema):
    """Op versions for the int8 kernels, min_runtime_version metadata to match, and a description."""
    for code in model.operatorCodes:
        name = next((n for n in INT8_OP_VERSIONS if getattr(schema.BuiltinOperator, n) ==
                     max(code.builtinCode, code.deprecatedBuiltinCode)), None)
        if name is not None:
            code.version = max(code.version, INT8_OP_VERSIONS[name])
    for entry in model.metadata or []:
        buffer = model.buffers[entry.buffer]
        if entry.name == b"min_runtime_version" and buffer.data is not None:
            size = max(len(buffer.data), len(INT8_MIN_RUNTIME))
            buffer.data = np.frombuffer(INT8_MIN_RUNTIME.ljust(size, b"\0"), np.uint8)
    model.description = (model.description or b"") + b" Requantized uint8 -> int8 (lossy weights) by mnd."
