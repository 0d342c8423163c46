"""An int8 TFLite model's outputs as floats, and how far they are from a float model's."""
import math
from pathlib import Path

import numpy as np


def dequantized_outputs(path: Path, inputs: np.ndarray, logits: bool = False, shown: str | None = None) -> np.ndarray:
    """The model's outputs on float `inputs` (quantized with its own input scale), dequantized: [N, ...] float64.
    `logits`: the tensor feeding the final SOFTMAX instead, where there is one. LiteRT's reference kernels, in a
    child process (the int8 SOFTMAX can abort its process). `shown`: what the progress line calls the model."""
    from mnd.base.runtimes.inputs import inputs_for
    from mnd.base.runtimes.sandbox import run_model
    from mnd.base.tflite.read import read_tflite
    from mnd.quantize.tflite_edit import load

    data = path.read_bytes()
    info = read_tflite(data, path.name)
    tensor = info.softmax_input if logits else None
    raw = run_model("litert-ref", path, inputs_for(path, inputs), tensor=tensor, shown=shown).outputs
    raw = raw.reshape(len(inputs), -1)
    quantization = load(data).subgraphs[0].tensors[tensor if tensor is not None else info.outputs[0].index].quantization
    if quantization is None or quantization.scale is None or len(quantization.scale) != 1:
        return raw.astype(np.float64)
    return (raw.astype(np.float64) - int(quantization.zeroPoint[0])) * float(quantization.scale[0])


def squared_error_per_input(reference: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Mean squared difference per input (the first axis) between `outputs` and `reference`."""
    difference = np.asarray(outputs, np.float64) - np.asarray(reference, np.float64).reshape(outputs.shape)
    return np.square(difference).reshape(len(difference), -1).mean(axis=1)


def sqnr_db(reference: np.ndarray, outputs: np.ndarray) -> float | None:
    """10·log10(Σ f² / Σ (f − q)²) of `outputs` q against `reference` f; None when they are equal."""
    reference = np.asarray(reference, np.float64).reshape(outputs.shape)
    return sqnr_from_sums(float(np.sum(np.square(reference))), float(np.sum(np.square(outputs - reference))))


def sqnr_from_sums(signal: float, noise: float) -> float | None:
    """10·log10(signal / noise) from Σ f² and Σ (f − q)²; None without noise (exact) or without signal."""
    if signal <= 0 or noise <= 0:
        return None
    return float(10 * math.log10(signal / noise))
