"""An int8 TFLite model's outputs as floats, and how far they are from a float model's."""
from pathlib import Path

import numpy as np


def dequantized_outputs(path: Path, inputs: np.ndarray) -> np.ndarray:
    """The model's outputs on float `inputs` (quantized with its own input scale), dequantized: [N, ...] float64.
    LiteRT's reference kernels, in a child process (the int8 SOFTMAX can abort its process)."""
    from mnd.pipeline.runtimes.inputs import inputs_for
    from mnd.pipeline.runtimes.sandbox import run_model
    from mnd.pipeline.sources.tflite_read import read_tflite

    output = read_tflite(path.read_bytes(), path.name).outputs[0]
    raw = run_model("litert-ref", path, inputs_for(path, inputs)).outputs.reshape(len(inputs), -1)
    if output.scale is None:
        return raw.astype(np.float64)
    return (raw.astype(np.float64) - output.zero_point) * output.scale


def squared_error_per_input(reference: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Mean squared difference per input (the first axis) between `outputs` and `reference`."""
    difference = np.asarray(outputs, np.float64) - np.asarray(reference, np.float64).reshape(outputs.shape)
    return np.square(difference).reshape(len(difference), -1).mean(axis=1)


def sqnr_db(reference: np.ndarray, outputs: np.ndarray) -> float | None:
    """10·log10(Σ f² / Σ (f − q)²); None when the outputs are exact."""
    reference = np.asarray(reference, np.float64).reshape(outputs.shape)
    noise = float(np.sum(np.square(outputs - reference)))
    return None if noise == 0 else 10 * float(np.log10(float(np.sum(np.square(reference))) / noise))
