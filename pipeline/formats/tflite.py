"""TFLite artifacts: float (as converted) and full-integer int8 (from quantize.ptq)."""
from pathlib import Path

import numpy as np

from mnd.quantize import ptq


def write_tflite_float(saved_model: Path, path: Path) -> Path:
    path.write_bytes(ptq.float_tflite(saved_model))
    return path


def write_tflite_int8(saved_model: Path, calibration_inputs: np.ndarray, path: Path) -> Path:
    path.write_bytes(ptq.int8_tflite(saved_model, calibration_inputs))
    return path
