"""ONNX artifacts: float through tf2onnx, int8 QDQ through onnxruntime's static quantization."""
from pathlib import Path

import numpy as np

from mnd.base.errors import ModelError
from mnd.base.quiet import native_stderr_silenced
from mnd.base.tempdirs import temporary_directory
from mnd.pipeline.formats.onnx_names import canonicalize_file

OPSET = 17


def write_onnx_float(model, path: Path) -> Path:
    """tf2onnx on the Keras model traced with batch 1, in this process (no second TensorFlow start-up)."""
    import logging

    import tensorflow as tf
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)

    @tf.autograph.experimental.do_not_convert
    def forward(image):
        return model(image, training=False)

    signature = [tf.TensorSpec((1, *model.input_shape[1:]), tf.float32, name="image")]
    try:
        with native_stderr_silenced():
            tf2onnx.convert.from_function(tf.function(forward), input_signature=signature, opset=OPSET,
                                          output_path=str(path))
    except Exception as error:  # tf2onnx raises many types for unsupported graphs
        raise ModelError(f"tf2onnx could not convert the model: {str(error).splitlines()[0][:300]}") from None
    return canonicalize_file(path)


def write_onnx_from_tflite(tflite_path: Path, path: Path) -> Path:
    """tf2onnx's TFLite front end; quantized models keep their quantization as QuantizeLinear/DequantizeLinear."""
    import logging

    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        with native_stderr_silenced():
            tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET, output_path=str(path))
    except Exception as error:  # tf2onnx raises many types for unsupported graphs
        raise ModelError(f"tf2onnx could not convert {tflite_path.name}: {str(error).splitlines()[0][:300]}") from None
    return canonicalize_file(path)


class _Samples:
    """onnxruntime CalibrationDataReader over a fixed array of float inputs."""

    def __init__(self, input_name: str, samples: np.ndarray):
        self._feeds = iter([{input_name: sample[None].astype(np.float32)} for sample in samples])

    def get_next(self):
        return next(self._feeds, None)


def write_onnx_int8(float_path: Path, calibration_inputs: np.ndarray, path: Path, reduce_range: bool = False,
                    weights: str = "per-channel", calibration: str = "minmax") -> Path:
    """QDQ, symmetric int8 weights and asymmetric int8 activations, calibrated on the same samples as TFLite.

    `weights`: "per-channel" or "per-tensor" scales. `calibration`: how activation ranges are chosen, as for TFLite
    (quantize.activation_ranges); "minmax" is ONNX Runtime's own MinMax calibration.
    `reduce_range`: 7-bit weights (-64..63). x86 CPUs without VNNI add pairs of uint8 x int8 products in saturating
    16-bit sums (vpmaddubsw) in ONNX Runtime's fused int8 kernels; with 7-bit weights no pair can saturate, so the
    fused kernels compute what the QDQ graph says on every CPU, at a small cost in accuracy."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from mnd.pipeline.formats.onnx_ranges import range_overrides
    from mnd.quantize.config import CALIBRATION_METHODS, WEIGHT_SCHEMES

    if weights not in WEIGHT_SCHEMES:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_SCHEMES)}, not {weights!r}")
    if calibration not in CALIBRATION_METHODS:
        raise ValueError(f"calibration must be one of {', '.join(CALIBRATION_METHODS)}, not {calibration!r}")
    with temporary_directory("mnd-onnx-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        input_name = onnx.load(str(prepared)).graph.input[0].name
        overrides = {} if calibration == "minmax" else {
            "TensorQuantOverrides": range_overrides(prepared, calibration_inputs, calibration)}
        quantize_static(str(prepared), str(path), _Samples(input_name, calibration_inputs),
                        quant_format=QuantFormat.QDQ, per_channel=weights == "per-channel",
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, reduce_range=reduce_range, extra_options=overrides)
    return path


def softmax_input_copy(path: Path, destination: Path) -> str | None:
    """Copy of the model that also outputs the tensor feeding a final Softmax; its name, or None."""
    import onnx

    model = onnx.load(str(path))
    output_names = {output.name for output in model.graph.output}
    node = next((n for n in model.graph.node if n.op_type == "Softmax" and n.output[0] in output_names), None)
    if node is None:
        return None
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(node.input[0]))
    onnx.save(model, str(destination))
    return node.input[0]
