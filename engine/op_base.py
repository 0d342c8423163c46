"""The shared part of the op emitters (engine/ops.py, engine/ops_elementwise.py): one TFLite operator read through
the flatbuffer object API (`_Op`), what an emitter returns (`OpEmission`), its typed error and the C text helpers."""
from dataclasses import dataclass

import numpy as np

from mnd.base.errors import ModelError
from mnd.engine import quant

ACTIVATIONS = "NONE, RELU, RELU6, RELU_N1_TO_1"
KERNEL_SETS = ("portable", "dsp", "mve")  # dsp: kernels_*_dsp.c where a layer fits it (Cortex-M4/M7/M33/M55);
# mve: kernels_*_mve.c (Helium, Cortex-M55)
VALUES_PER_LINE = 24


class UnsupportedOp(ModelError):
    """An operator, or a parameter of one, that the Cortex-M C engine does not implement."""


@dataclass
class OpEmission:
    """constants: C definitions (static const arrays and the params struct), names starting with the prefix.
    call: one C statement with `{in0}`, `{in1}`, ... (one per entry of `inputs`, the activation tensors it reads;
    constant operands are arrays among `constants`) and `{out0}` placeholders for int8_t* activation pointers and,
    when scratch_bytes > 0, `{scratch}` for the op's scratch area in the arena (the only braces in it, so
    str.format fills them). macs: multiply-accumulates (0 for pooling, softmax and data movement)."""

    constants: list
    call: str
    inputs: tuple
    output_tensor: int
    macs: int
    scratch_bytes: int = 0


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    return schema_fb


def _names(enum_class) -> dict:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_") and isinstance(value, int)}


class _Op:
    """One operator and the accessors its emitter needs."""

    def __init__(self, model, graph, index: int, prefix: str, kernels: str = "portable"):
        self.schema = _schema()
        self.model, self.graph, self.index, self.prefix, self.kernels = model, graph, index, prefix, kernels
        if not 0 <= index < len(graph.operators or []):
            raise UnsupportedOp(f"layer {index}: the subgraph has {len(graph.operators or [])} operators")
        self.op = graph.operators[index]
        code = model.operatorCodes[self.op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        self.name = _names(self.schema.BuiltinOperator).get(builtin, f"BUILTIN_{builtin}")
        self.inputs = [int(i) for i in (self.op.inputs if self.op.inputs is not None else [])]
        self.outputs = [int(i) for i in (self.op.outputs if self.op.outputs is not None else [])]
        self.options = self.op.builtinOptions

    def fail(self, problem: str, supported: str):
        raise UnsupportedOp(f"{self.name} (layer {self.index}): {problem}; the Cortex-M C engine supports {supported}")

    def tensor(self, index: int):
        return self.graph.tensors[index]

    def shape(self, index: int) -> tuple:
        shape = self.tensor(index).shape
        return tuple(int(d) for d in shape) if shape is not None else ()

    def size(self, index: int) -> int:
        return int(np.prod(self.shape(index), dtype=np.int64))

    def dtype(self, index: int) -> str:
        return _names(self.schema.TensorType).get(self.tensor(index).type, "UNKNOWN")

    def scales(self, index: int) -> list:
        q = self.tensor(index).quantization
        return [float(s) for s in q.scale] if q is not None and q.scale is not None else []

    def zero_points(self, index: int) -> list:
        q = self.tensor(index).quantization
        return [int(z) for z in q.zeroPoint] if q is not None and q.zeroPoint is not None else []

    def scale_zp(self, index: int) -> tuple:
        """(scale, zero point) of a per-tensor quantized int8 activation."""
        scales, zps = self.scales(index), self.zero_points(index)
        if self.dtype(index) != "INT8" or len(scales) != 1:
            self.fail(f"tensor {index} is {self.dtype(index).lower()} with {len(scales)} scales",
                      "int8 activations with one scale and zero point (a full-integer int8 model)")
        return scales[0], (zps[0] if zps else 0)

    def is_constant(self, index: int) -> bool:
        buffer = self.model.buffers[self.tensor(index).buffer]
        return buffer.data is not None and len(buffer.data) > 0

    def data(self, index: int, dtype) -> np.ndarray:
        buffer = self.model.buffers[self.tensor(index).buffer]
        if buffer.data is None or len(buffer.data) == 0:
            self.fail(f"tensor {index} has no constant data", "weights, biases and axes stored in the model")
        return np.frombuffer(np.asarray(buffer.data, np.uint8).tobytes(), dtype).reshape(self.shape(index))

    def activation(self) -> int:
        act = int(getattr(self.options, "fusedActivationFunction", 0))
        if act not in quant.ACTIVATION_BOUNDS:
            self.fail(f"fused activation {_names(self.schema.ActivationFunctionType).get(act, act)}",
                      f"fused activations {ACTIVATIONS}")
        return act

    def act_range(self, output: int) -> tuple:
        scale, zp = self.scale_zp(output)
        return quant.activation_range(self.activation(), scale, zp)

    def weights(self, index: int) -> np.ndarray:
        if self.dtype(index) != "INT8" or any(self.zero_points(index)):
            self.fail(f"weights are {self.dtype(index).lower()} with zero points {sorted(set(self.zero_points(index)))}",
                      "symmetric int8 weights (zero point 0)")
        return self.data(index, np.int8)

    def bias(self, position: int, channels: int):
        if position >= len(self.inputs) or self.inputs[position] < 0:
            return None
        index = self.inputs[position]
        if self.dtype(index) != "INT32" or self.size(index) != channels:
            self.fail(f"bias is {self.dtype(index).lower()} with {self.size(index)} values", "int32 biases, one per channel")
        return self.data(index, np.int32).reshape(-1)


def _array(name: str, ctype: str, values, aligned: int = 0) -> str:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(map(str, flat[i:i + VALUES_PER_LINE])) for i in range(0, len(flat), VALUES_PER_LINE)]
    attribute = f" __attribute__((aligned({aligned})))" if aligned else ""
    return f"static const {ctype} {name}[{len(flat)}]{attribute} = {{\n  " + ",\n  ".join(lines) + "\n};"


def _struct(name: str, ctype: str, fields: dict) -> str:
    body = ",\n".join(f"  .{key} = {value}" for key, value in fields.items())
    return f"static const {ctype} {name} = {{\n{body}\n}};"


def _call(function: str, params: str) -> str:
    return f"{function}(&{params}, (const int8_t*)({{in0}}), (int8_t*)({{out0}}));"


def _nhwc(o: _Op, index: int) -> tuple:
    shape = o.shape(index)
    if len(shape) != 4 or shape[0] != 1:
        o.fail(f"tensor {index} has shape {list(shape)}", "4-D NHWC activations with batch 1")
    return shape[1:]
