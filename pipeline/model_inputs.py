"""Model inputs from preprocessed float samples, in each artifact's own input contract."""
from pathlib import Path

import numpy as np

from pipeline.tflite_model import read_tflite

INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    low, high = INT_RANGES[dtype]
    return np.clip(np.round(values / scale) + zero_point, low, high).astype(dtype)


def inputs_for(artifact_path: Path, float_inputs: np.ndarray) -> np.ndarray:
    """float32 for float models and ONNX; quantized with the model's own input scale/zero point for int8 TFLite."""
    if artifact_path.suffix != ".tflite":
        return float_inputs.astype(np.float32)
    info = read_tflite(artifact_path.read_bytes(), artifact_path.name).inputs[0]
    if info.dtype in INT_RANGES:
        return quantize(float_inputs, info.scale, info.zero_point, info.dtype)
    return float_inputs.astype(np.float32)
