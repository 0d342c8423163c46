"""Model inputs in each artifact's own input contract (float, or quantized with the model's own scale/zero point)."""
from pathlib import Path

import numpy as np

from mnd.base.tflite.read import read_tflite

INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}
ONNX_TYPES = {1: "float32", 2: "uint8", 3: "int8"}


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    low, high = INT_RANGES[dtype]
    return np.clip(np.round(values / scale) + zero_point, low, high).astype(dtype)


def raw_bytes(pixels: np.ndarray, dtype: str) -> np.ndarray:
    """'raw' preprocessing into a quantized input: the pixel bytes themselves (shifted by 128 for int8)."""
    if dtype == "uint8":
        return pixels.astype(np.uint8)
    return (pixels.astype(np.int16) - 128).astype(np.int8)


def input_contract(path: Path, input_quant: dict | None = None) -> tuple:
    """(dtype, scale, zero_point) of the artifact's input; ONNX integer inputs take the TFLite model's quantization."""
    if path.suffix == ".tflite":
        info = read_tflite(path.read_bytes(), path.name).inputs[0]
        return info.dtype, info.scale, info.zero_point
    import onnx

    elem_type = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.elem_type
    dtype = ONNX_TYPES.get(elem_type, "float32")
    if dtype == "float32" or not input_quant:
        return dtype, None, None
    return dtype, input_quant["scale"], input_quant["zero_point"]


def inputs_for(path: Path, float_inputs: np.ndarray) -> np.ndarray:
    """Preprocessed float samples in the artifact's input contract."""
    dtype, scale, zero_point = input_contract(path)
    if dtype in INT_RANGES:
        return quantize(float_inputs, scale, zero_point, dtype)
    return float_inputs.astype(np.float32)


def artifact_inputs(path: Path, evaluation, input_quant: dict | None = None) -> np.ndarray:
    """An evaluation set in the artifact's input contract; 'raw' preprocessing feeds quantized models the bytes."""
    dtype, scale, zero_point = input_contract(path, input_quant)
    if dtype not in INT_RANGES:
        return evaluation.float_inputs.astype(np.float32)
    if evaluation.prep.mode == "raw":
        return raw_bytes(evaluation.pixels, dtype)
    return quantize(evaluation.float_inputs, scale, zero_point, dtype)
