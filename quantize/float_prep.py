"""The float model made easier to quantize before int8 conversion: batch norm folded, depthwise/pointwise pairs
equalized, biases corrected for the weights' expected quantization error. The result is still a plain Keras
model, so the exported int8 model stays a standard TFLite / ONNX model.
"""
from dataclasses import dataclass, field

import numpy as np
from keras import layers as kl

from mnd.quantize.bias_correct import bias_correct as correct_biases
from mnd.quantize.graph import model_graph
from mnd.quantize.equalize import CLIP_BINDS, NOT_A_CHAIN, NOT_RELU_LIKE, RELU6_TO_RELU
from mnd.quantize.equalize import equalize as equalize_pairs
from mnd.quantize.fold_batchnorm import fold_batchnorm
from mnd.quantize.weight_quant import check_granularity


@dataclass
class PrepNotes:
    lines: list = field(default_factory=list)  # one summary line per transform, for report.md
    equalization: list = field(default_factory=list)  # equalize.PairRecord
    bias_correction: list = field(default_factory=list)  # bias_correct.BiasRecord


def prepare_for_int8(model, calibration_inputs: np.ndarray, *, weights: str, equalize: bool,
                     bias_correct: bool) -> tuple:
    """(model, PrepNotes). `weights`: "per-channel" or "per-tensor", as the converter will quantize them;
    `calibration_inputs`: float model inputs [N, H, W, C]. With neither transform on, `model` comes back as is."""
    check_granularity(weights)
    notes = PrepNotes()
    if not (equalize or bias_correct):
        return model, notes
    model = fold_batchnorm(model)
    notes.lines.append(folding_line(model))
    if equalize:
        model, notes.equalization = equalize_pairs(model, calibration_inputs)
        notes.lines.append(equalization_summary(notes.equalization))
    if bias_correct:
        model, notes.bias_correction = correct_biases(model, calibration_inputs, weights)
        notes.lines.append(f"bias correction for {weights} int8 weights: {len(notes.bias_correction)} layers, "
                           f"{len(calibration_inputs)} calibration inputs")
    return model, notes


def folding_line(folded) -> str:
    left = [layer.name for layer in model_graph(folded).layer_list() if isinstance(layer, kl.BatchNormalization)]
    if not left:
        return "batch norm folded into the convolutions before it"
    return (f"batch norm folded where it follows a convolution; {len(left)} left as they are "
            f"({', '.join(left[:5])}{', ...' if len(left) > 5 else ''})")


def equalization_summary(records: list) -> str:
    done = sum(1 for record in records if record.spread_after is not None)
    relu = sum(1 for record in records if record.action == RELU6_TO_RELU)
    clipped = sum(1 for record in records if record.action == CLIP_BINDS)
    text = f"cross-layer equalization: {done} of {len(records)} depthwise/pointwise pairs equalized"
    if relu:
        text += f" ({relu} with their clipped ReLU replaced by ReLU: the clip never binds on the calibration data)"
    if clipped:
        text += f"; {clipped} left as they are: their clipped ReLU binds on the calibration data, where rescaling " \
                "would change the float model"
    chains = sum(1 for record in records if record.action.startswith(NOT_A_CHAIN))
    if chains:
        text += f"; {chains} skipped as not chains (another layer also reads the activation: squeeze-and-excite)"
    homogeneous = sum(1 for record in records if record.action == NOT_RELU_LIKE)
    if homogeneous:
        text += f"; {homogeneous} skipped: their activation is not ReLU-like"
    return text
