"""Per-layer int8 PTQ quality: where, layer by layer, quantization loses accuracy.

Two QuantizationDebugger models of the same calibrated model (quantize.ptq.quantize_calibrated with `verify`) pair
every quantized op with a float twin. In the "model" one the float twins form the float model, so the comparison
measures the error accumulated up to that layer; in the "layer" one each twin reads the quantized op's own input,
so it measures the error that layer adds. SQNR = 10 log10(sum f² / sum (f - dequant(q))²) over all evaluation
samples. Weight ranges come from the float twins' weights: the converter's float weights, batch norm folded.
Which layers to point at, and why, is quantize.layer_flags.
"""
import re
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from mnd.base.quiet import native_stderr_silenced
from mnd.quantize import tflite_edit
from mnd.quantize.int8_outputs import sqnr_from_sums
from mnd.quantize.layer_flags import flag_layers
from mnd.quantize.ptq import quantize_calibrated

MAX_SAMPLES = 50
DEAD_FRACTION = 0.01
WEIGHT_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}
CORE_TF_OPS = ("convolution", "depthwise", "Conv2D", "DepthwiseConv2dNative", "MatMul", "BiasAdd")
NUMERIC_VERIFY = b"NumericVerify"


@dataclass(frozen=True)
class LayerQuality:
    """One quantized op's output. SQNR None: the float output is all zero there (nothing to compare) or the
    quantized output matches it exactly (max_abs_error 0). max_abs_error: each sample's largest |error|, averaged
    over the samples (the debugger's own definition). Weight fields None for ops without weights; the spread None
    also where a channel is dead (weight_spread). inputs: the depths of the layers whose outputs this one reads
    (empty: only the model input); the drop and flag fields are quantize.layer_flags'."""
    depth: int
    name: str
    op: str
    tensor: str
    sqnr_db: float | None
    layer_sqnr_db: float | None
    mean_abs_error: float
    max_abs_error: float
    weight_range_spread: float | None = None
    weight_channels: int | None = None
    dead_channels: int | None = None
    inputs: tuple = ()
    accumulated_drop_db: float | None = None
    drop_from: int | None = None
    largest_drop: bool = False
    lowest_layer_sqnr: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VerifiedOp:
    """A NumericVerify op of a debug model: its statistics key, the float twin's output tensor (in the "model" debug
    model, named as in the int8 model), the quantized op it checks, the float twin's weights, and the positions
    among the verified ops of those whose outputs the quantized op reads."""
    key: str
    tensor: str
    op: str
    float_weights: np.ndarray | None
    inputs: tuple = ()


def layer_quality(calibrated: bytes, weights: str, samples: np.ndarray, max_samples: int = MAX_SAMPLES) -> list:
    """LayerQuality per quantized op output, in graph order, flagged by quantize.layer_flags.
    `calibrated`: quantize.ptq.calibrated_float's model; `weights`: "per-channel" or "per-tensor"; `samples`: float32
    model inputs [N, H, W, C], the first `max_samples` used."""
    samples = np.asarray(samples, np.float32)[:max_samples]
    if not len(samples):
        raise ValueError("layer_quality needs at least one evaluation sample")
    accumulated_model = quantize_calibrated(calibrated, weights, verify="model")
    isolated_model = quantize_calibrated(calibrated, weights, verify="layer")
    accumulated, isolated = verified_ops(accumulated_model), verified_ops(isolated_model)
    if [v.op for v in accumulated] != [v.op for v in isolated]:
        raise RuntimeError("the two QuantizationDebugger models quantize different ops")
    accumulated_stats = verify_statistics(accumulated_model, samples)
    isolated_stats = verify_statistics(isolated_model, samples)
    layers = [_layer(depth, verified, accumulated_stats[verified.key], isolated_stats[twin.key])
              for depth, (verified, twin) in enumerate(zip(accumulated, isolated))]
    return flag_layers(layers)


def _layer(depth: int, verified: VerifiedOp, accumulated: dict, isolated: dict) -> LayerQuality:
    spread = weight_spread(verified.float_weights, WEIGHT_CHANNEL_AXIS[verified.op]) \
        if verified.float_weights is not None else (None, None, None)
    return LayerQuality(depth, short_name(verified.tensor, verified.op), verified.op, verified.tensor,
                        _sqnr_db(accumulated), _sqnr_db(isolated),
                        float(accumulated["abs_error"] / accumulated["elements"]),
                        float(accumulated["sample_max_abs_error"]), *spread, inputs=verified.inputs)


def _sqnr_db(stats: dict) -> float | None:
    return sqnr_from_sums(stats["signal"], stats["noise"])


def weight_spread(weights: np.ndarray, axis: int) -> tuple:
    """(largest / smallest per-output-channel max|w|, channels, dead channels: max|w| below DEAD_FRACTION of the
    largest, every channel where all are zero). The ratio None where a channel is dead: a channel equalization
    shrank to 1e-15 would make it an astronomic number, where the count says what matters (per-tensor int8 leaves
    a dead channel at most one level)."""
    ranges = np.max(np.abs(np.moveaxis(weights, axis, 0).reshape(weights.shape[axis], -1)), axis=1)
    largest = float(ranges.max())
    dead = int(np.sum(ranges < DEAD_FRACTION * largest)) if largest > 0 else int(ranges.size)
    spread = largest / float(ranges.min()) if not dead else None
    return spread, int(ranges.size), dead


def short_name(tensor: str, op: str) -> str:
    """The Keras layer that made a converted tensor: "dw_1" from the ';'-joined TF names of the fused ops
    ("model_1/model_1/dw_1_relu6_1/Relu6;...;model_1/model_1/dw_1_1/depthwise;1"), preferring the convolution's or
    matmul's own layer over its batch norm and activation. Where the model's scope is uniquified ("model_1"), so
    is every layer's ("conv2d_1" for conv2d, "conv2d_1_2" for conv2d_1), and that last "_N" is dropped; a
    signature output ("StatefulPartitionedCall_1:0") is named by its op."""
    paths = [part.split("/") for part in tensor.split(";") if "/" in part]
    if not paths:
        return op.lower()
    core = next((path for path in paths if path[-1] in CORE_TF_OPS), paths[0])
    uniquified = len(core) > 2 and re.search(r"_\d+$", core[0])
    return re.sub(r"(?<=.)_\d+$", "", core[-2]) if uniquified else core[-2]


def verified_ops(debug_model: bytes) -> list:
    """The NumericVerify ops of a QuantizationDebugger model, in graph order."""
    fb = tflite_edit.schema()
    model = tflite_edit.load(debug_model)
    graph = model.subgraphs[0]
    producers = {int(out): op for op in graph.operators for out in op.outputs}
    names = {code: name for name, code in vars(fb.BuiltinOperator).items() if not name.startswith("_")}
    checks = [op for op in graph.operators if model.operatorCodes[op.opcodeIndex].customCode == NUMERIC_VERIFY]
    position = {int(check.inputs[0]): index for index, check in enumerate(checks)}  # quantized output -> position
    verified = []
    for check in checks:
        quantized, twin = producers[int(check.inputs[0])], producers.get(int(check.inputs[1]))
        op_name = names.get(tflite_edit.builtin(model, quantized), "UNKNOWN")
        weights = _float_weights(model, graph, twin) if op_name in WEIGHT_CHANNEL_AXIS and twin else None
        verified.append(VerifiedOp(graph.tensors[check.outputs[0]].name.decode(),
                                   graph.tensors[check.inputs[1]].name.decode(), op_name, weights,
                                   _verified_inputs(quantized, producers, position)))
    return verified


def _verified_inputs(op, producers: dict, position: dict) -> tuple:
    """The positions of the verified ops whose outputs `op` reads, looking through ops that are not verified
    (a QUANTIZE, a RESHAPE the debugger left alone); constants and the model input have no producer."""
    found, seen, pending = set(), set(), [int(tensor) for tensor in op.inputs if tensor >= 0]
    while pending:
        tensor = pending.pop()
        if tensor in seen or tensor not in producers:
            continue
        seen.add(tensor)
        if tensor in position:
            found.add(position[tensor])
        else:
            pending += [int(upstream) for upstream in producers[tensor].inputs if upstream >= 0]
    return tuple(sorted(found))


def _float_weights(model, graph, op) -> np.ndarray | None:
    tensor = graph.tensors[op.inputs[1]]
    data = model.buffers[tensor.buffer].data
    if tensor.type != tflite_edit.schema().TensorType.FLOAT32 or data is None:
        return None
    return np.frombuffer(np.asarray(data, np.uint8).tobytes(), "<f4").reshape(tuple(tensor.shape))


def verify_statistics(debug_model: bytes, samples: np.ndarray) -> dict:
    """{NumericVerify tensor name: {signal, noise, abs_error, elements, sample_max_abs_error, ...}}: per sample, the
    sums of f², (f - dequant(q))², |f - dequant(q)|, the element count and the largest |error|, each averaged over
    `samples` by the debugger (so signal / noise is the ratio of the sums over all samples)."""
    import tensorflow as tf

    metrics = {"signal": lambda f, q, s, z: np.sum(np.square(f, dtype=np.float64)),
               "noise": lambda f, q, s, z: np.sum(np.square(_error(f, q, s, z))),
               "abs_error": lambda f, q, s, z: np.sum(np.abs(_error(f, q, s, z))),
               "elements": lambda f, q, s, z: f.size,
               "sample_max_abs_error": lambda f, q, s, z: np.max(np.abs(_error(f, q, s, z)))}
    options = tf.lite.experimental.QuantizationDebugOptions(layer_direct_compare_metrics=metrics)
    with warnings.catch_warnings(), native_stderr_silenced():
        warnings.simplefilter("ignore")
        debugger = tf.lite.experimental.QuantizationDebugger(
            quant_debug_model_content=debug_model, debug_options=options,
            debug_dataset=lambda: ([sample[None]] for sample in model_inputs(debug_model, samples)))
        debugger.run()
    return debugger.layer_statistics


def model_inputs(model: bytes, samples: np.ndarray) -> np.ndarray:
    """`samples` quantized to the model's int8 input (the debugger's own quantization skips zero point 0)."""
    model = tflite_edit.load(model)
    graph = model.subgraphs[0]
    tensor = graph.tensors[graph.inputs[0]]
    if tensor.type != tflite_edit.schema().TensorType.INT8:
        return samples
    scale, zero_point = float(tensor.quantization.scale[0]), int(tensor.quantization.zeroPoint[0])
    return np.clip(np.round(samples / scale) + zero_point, -128, 127).astype(np.int8)


def _error(f: np.ndarray, q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return f.astype(np.float64) - (q.astype(np.float64) - zero_point) * scale
