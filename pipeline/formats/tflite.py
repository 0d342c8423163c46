"""TFLite artifacts: the float model as converted (the int8 one comes from quantize.int8_model)."""
from pathlib import Path

from mnd.quantize import ptq


def write_tflite_float(saved_model: Path, path: Path) -> Path:
    path.write_bytes(ptq.float_tflite(saved_model))
    return path
