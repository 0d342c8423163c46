"""mnd's int8 PTQ recipe for a float Keras model, one place for every artifact that needs it:
float-model preparation (batch-norm folding, equalization, bias correction) -> calibration -> activation ranges ->
int8 TFLite. The ONNX int8 artifact is quantized from `prepared` with the same settings."""
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from mnd.quantize import ptq
from mnd.quantize.bias_choice import BiasChoice, choose_bias_correction, fixed_choice
from mnd.quantize.config import QuantConfig


@dataclass
class Int8Build:
    tflite: bytes  # the int8 model as exported
    calibrated: bytes  # the calibrated float TFLite model the int8 one was quantized from
    prepared: object  # the float Keras model that was quantized (the original when nothing changed it)
    quant: QuantConfig  # the settings it was quantized with, bias correction decided (never None here)
    bias_choice: BiasChoice
    notes: list = field(default_factory=list)  # what was done to the float model, one line each
    records: dict = field(default_factory=dict)  # per pair and layer: {"equalization": [...], "bias_correction": [...]}


def build_int8(model, calibration_inputs: np.ndarray, quant: QuantConfig, workdir: Path) -> Int8Build:
    """The int8 TFLite model of `model`; `workdir` holds the SavedModels on the way. Bias correction None ("auto"):
    decided first from held-out calibration inputs (quantize.bias_choice)."""
    if quant.bias_correct is None:
        choice = choose_bias_correction(lambda *args: _build(*args).tflite, model, calibration_inputs, quant, workdir)
    else:
        choice = fixed_choice(quant.bias_correct)
    built = _build(model, calibration_inputs, replace(quant, bias_correct=choice.applied), workdir)
    return replace(built, bias_choice=choice, notes=built.notes + [choice.line()])


def _build(model, calibration_inputs: np.ndarray, quant: QuantConfig, workdir: Path) -> Int8Build:
    from mnd.quantize.float_prep import prepare_for_int8
    from mnd.quantize.range_override import with_ranges

    prepared, notes, records = model, [], {}
    if quant.changes_float_model:
        prepared, prep = prepare_for_int8(model, calibration_inputs, weights=quant.weights,
                                          equalize=quant.equalize, bias_correct=quant.bias_correct)
        notes = prep.lines
        records = {"equalization": [{**asdict(r), "line": r.line()} for r in prep.equalization],
                   "bias_correction": [{**asdict(r), "line": r.line()} for r in prep.bias_correction]}
    workdir.mkdir(parents=True, exist_ok=True)
    saved_model = ptq.export_saved_model(prepared, workdir / "prepared_saved_model")
    calibrated = with_ranges(ptq.calibrated_float(saved_model, calibration_inputs), calibration_inputs,
                             quant.calibration)
    tflite = ptq.exported_int8(ptq.quantize_calibrated(calibrated, quant.weights))
    return Int8Build(tflite, calibrated, prepared, quant, fixed_choice(bool(quant.bias_correct)), notes, records)
