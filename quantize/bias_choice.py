"""Whether an export's float model gets bias correction, decided from calibration inputs it was not fitted on.

Bias correction fits one shift per output channel on the calibration data. Measured out of sample it lowers the int8
output error of vww_96.h5 on every split and of the ImageNet feature extractor by ~6 dB, but on the digits model it
costs about 1 dB (docs/BENCHMARKS.md, quant-quality). So by default (QuantConfig.bias_correct None, "auto") each
export checks it: the int8 model is built twice from every other calibration input, with and without the correction,
both run on the remaining inputs with LiteRT's reference kernels, and the correction is kept only where it lowers the
int8 output error against the float model there (on the logits where the model ends in a softmax: a saturated
softmax hides most differences) by more than the check's own noise: the mean per-input drop must
exceed MIN_DROP_IN_STANDARD_ERRORS of its standard errors (a one-sided paired test). The export itself is then
quantized from all calibration inputs.
"""
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mnd.quantize.float_logits import float_logits
from mnd.quantize.int8_outputs import dequantized_outputs, squared_error_per_input

MIN_HALF = 8  # held-out inputs below which the check is not made (and the correction left off)
MIN_DROP_IN_STANDARD_ERRORS = 2.0


@dataclass(frozen=True)
class BiasChoice:
    mode: str  # "auto", "on" (--bias-correct) or "off" (--no-bias-correct)
    applied: bool
    fit_samples: int = 0  # calibration inputs the check's two int8 models were built from
    check_samples: int = 0  # the other calibration inputs, where their outputs were compared with float
    error_without: float | None = None  # mean squared int8-vs-float output error on the check inputs
    error_with: float | None = None
    drop_in_standard_errors: float | None = None  # (error_without - error_with) / its standard error
    compared: str = "outputs"  # "logits" where the model ends in a softmax (its saturation hides differences)
    unavailable: str | None = None  # why auto could not apply it at all (the model cannot be taken apart)

    def line(self) -> str:
        if self.mode != "auto":
            return f"bias correction {self.mode} (--{'' if self.applied else 'no-'}bias-correct)"
        if self.unavailable:
            return f"bias correction off (auto): {self.unavailable}"
        if self.error_with is None:
            return (f"bias correction off (auto): {self.fit_samples + self.check_samples} calibration inputs are too "
                    f"few to check it on {MIN_HALF} held-out ones; --bias-correct forces it")
        verdict = "kept" if self.applied else "left off"
        return (f"bias correction {verdict} (auto): int8 {self.compared} error against float on {self.check_samples} "
                f"held-out calibration inputs {self.error_with:.3g} with it, {self.error_without:.3g} without (both "
                f"fitted on the other {self.fit_samples}), a drop of {self.drop_in_standard_errors:.1f} standard errors "
                f"(kept from {MIN_DROP_IN_STANDARD_ERRORS:g})")

    def to_dict(self) -> dict:
        return {"mode": self.mode, "applied": self.applied, "fit_samples": self.fit_samples,
                "check_samples": self.check_samples, "error_without": self.error_without,
                "error_with": self.error_with, "drop_in_standard_errors": self.drop_in_standard_errors,
                "compared": self.compared, "line": self.line()}


def fixed_choice(bias_correct: bool) -> BiasChoice:
    return BiasChoice("on" if bias_correct else "off", bias_correct)


def choose_bias_correction(build, model, calibration_inputs: np.ndarray, quant, workdir: Path) -> BiasChoice:
    """The auto choice. `build(model, inputs, quant, workdir) -> int8 TFLite bytes` quantizes with a fixed setting;
    fit and check halves interleave (every other input), so classes stored in order stay balanced."""
    from mnd.quantize.graph import graph_problem

    fit, check = calibration_inputs[0::2], calibration_inputs[1::2]
    problem = graph_problem(model)
    if problem:
        return BiasChoice("auto", False, unavailable=problem)
    if len(check) < MIN_HALF:
        return BiasChoice("auto", False, len(fit), len(check))
    reference, is_logits = float_logits(model, check)
    errors = {}
    for corrected in (False, True):
        path = workdir / f"bias_check_{int(corrected)}.tflite"
        path.write_bytes(build(model, fit, replace(quant, bias_correct=corrected), workdir / path.stem))
        shown = f"the int8 model {'with' if corrected else 'without'} bias correction"
        errors[corrected] = squared_error_per_input(reference, dequantized_outputs(path, check, logits=is_logits,
                                                                                   shown=shown))
    drop = paired_drop(errors[False], errors[True])
    return BiasChoice("auto", drop > MIN_DROP_IN_STANDARD_ERRORS, len(fit), len(check),
                      float(errors[False].mean()), float(errors[True].mean()), drop,
                      "logits" if is_logits else "outputs")


def paired_drop(before: np.ndarray, after: np.ndarray) -> float:
    """Mean of before - after over the inputs (at least 2), in standard errors of that mean; 0 when nothing
    changed, and finite even when every input changed by the same amount."""
    difference = np.asarray(before, np.float64) - np.asarray(after, np.float64)
    mean = float(difference.mean())
    spread = max(float(difference.std(ddof=1)), abs(mean) * 1e-12, np.finfo(np.float64).tiny)
    return float(mean / (spread / np.sqrt(len(difference))))
