"""ONNX artifacts: float through tf2onnx, int8 QDQ through onnxruntime's static quantization."""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from pipeline.errors import ModelError

OPSET = 17


def write_onnx_float(source: Path, path: Path, from_tflite: bool = False) -> Path:
    """tf2onnx on a SavedModel directory (or a .tflite file); runs in a child to keep its logging apart."""
    flag = ["--tflite", str(source)] if from_tflite else ["--saved-model", str(source), "--signature_def", "serving_default"]
    process = subprocess.run([sys.executable, "-m", "tf2onnx.convert", *flag, "--opset", str(OPSET),
                              "--output", str(path)], capture_output=True, text=True)
    if process.returncode != 0 or not path.exists():
        errors = [line for line in process.stderr.splitlines() if "ERROR" in line or "Error" in line]
        raise ModelError(f"tf2onnx could not convert {source.name}: {(errors or ['no message'])[-1][:300]}")
    return path


class _Samples:
    """onnxruntime CalibrationDataReader over a fixed array of float inputs."""

    def __init__(self, input_name: str, samples: np.ndarray):
        self._feeds = iter([{input_name: sample[None].astype(np.float32)} for sample in samples])

    def get_next(self):
        return next(self._feeds, None)


def write_onnx_int8(float_path: Path, calibration_inputs: np.ndarray, path: Path) -> Path:
    """QDQ, per-channel int8 weights and int8 activations, calibrated on the same samples as TFLite."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="mnd-onnx-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        input_name = onnx.load(str(prepared)).graph.input[0].name
        quantize_static(str(prepared), str(path), _Samples(input_name, calibration_inputs),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
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
