"""An int8 model wrapped in uint8 QUANTIZE ops -> the same int8 model with int8 input and output, losslessly.

The TFLite converter's full-integer models with `inference_input_type=uint8` (Coral's tf2_mobilenet_v2_*_ptq)
compute in int8 between a QUANTIZE uint8 -> int8 at the input and a QUANTIZE int8 -> uint8 at the output. Where
each only moves the zero point by 128 at an unchanged scale it is an exact shift of every value (the reference
kernel's multiplier is exactly one), so dropping both changes nothing but the input and output bytes: the int8
model's input is the uint8 input minus 128 and its output the uint8 output minus 128.
"""
import numpy as np

from mnd.base.errors import ModelError
from mnd.base.tflite.read import describe, load_tflite
from mnd.base.tflite.repair import _schema, pack_model

ZERO_POINT_SHIFT = 128


def _quant(tensor) -> tuple:
    q = tensor.quantization
    if q is None or q.scale is None or q.zeroPoint is None or len(q.scale) != 1 or len(q.zeroPoint) != 1:
        return None
    return float(np.float32(q.scale[0])), int(q.zeroPoint[0])


def _is_shift(graph, op, from_type: int, to_type: int) -> bool:
    """A QUANTIZE from `from_type` to `to_type` at one scale whose zero points differ by exactly 128."""
    source, target = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    a, b = _quant(source), _quant(target)
    if source.type != from_type or target.type != to_type or a is None or b is None:
        return False
    uint8_side, int8_side = (a, b) if from_type == _schema().TensorType.UINT8 else (b, a)
    return uint8_side[0] == int8_side[0] and uint8_side[1] - int8_side[1] == ZERO_POINT_SHIFT


def strip_uint8_boundary(data: bytes, source: str) -> bytes:
    """The int8 model inside a uint8 QUANTIZE boundary (see the module docstring). Raises ModelError naming what
    differs when the model is not of that form."""
    model = load_tflite(data, source)
    info = describe(model, source)
    schema = _schema()
    graph = model.subgraphs[0]
    ops = list(graph.operators or [])
    fix = "export it with the TFLite converter's int8 input and output, or use --requantize-int8"
    if info.subgraphs != 1 or len(ops) < 3 or info.ops[0] != "QUANTIZE" or info.ops[-1] != "QUANTIZE":
        raise ModelError(f"{source}: not an int8 graph between uint8 QUANTIZE ops; {fix}")
    first, last = ops[0], ops[-1]
    uint8, int8 = schema.TensorType.UINT8, schema.TensorType.INT8
    if not (_is_shift(graph, first, uint8, int8) and _is_shift(graph, last, int8, uint8)):
        raise ModelError(f"{source}: its uint8 QUANTIZE ops change the scale, not only the zero point by "
                         f"{ZERO_POINT_SHIFT}; dropping them would not be exact; {fix}")
    if list(graph.inputs) != [first.inputs[0]] or list(graph.outputs) != [last.outputs[0]]:
        raise ModelError(f"{source}: the QUANTIZE ops are not the model's only input and output; {fix}")
    readers = [op for op in ops[1:] if first.inputs[0] in list(op.inputs)]
    if readers:
        raise ModelError(f"{source}: the uint8 input feeds other operators too; {fix}")
    graph.inputs = np.asarray([first.outputs[0]], np.int32)
    graph.outputs = np.asarray([last.inputs[0]], np.int32)
    graph.operators = ops[1:-1]
    model.description = (model.description or b"") + b" uint8 QUANTIZE boundary dropped (exact) by mnd."
    return pack_model(model)
