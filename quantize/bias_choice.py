"""Whether an export's float model gets bias correction, decided from calibration inputs it was not fitted on.

Bias correction fits one shift per output channel on the calibration data. Measured out of sample it lowers the int8
output error of vww_96.h5 on every split and calibration method, but on the digits model and the ImageNet feature
extractor it helps on one half of the data and hurts on the other (docs/BENCHMARKS.md, "bias correction: auto"). So
by default (QuantConfig.bias_correct None, "auto") each export checks it: the int8 model is built twice from one half
of the calibration inputs, with and without the correction, both run on the other half with LiteRT's reference
kernels, and the correction is kept only where the int8 output is closer to the float model's there. The export
itself is then quantized from all calibration inputs.
"""
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mnd.quantize.int8_outputs import dequantized_outputs, mean_squared_error

MIN_HALF = 8  # held-out inputs below which the check is not made (and the correction left off)


@dataclass(frozen=True)
class BiasChoice:
    mode: str  # "auto", "on" (--bias-correct) or "off" (--no-bias-correct)
    applied: bool
    fit_samples: int = 0  # calibration inputs the check's two int8 models were built from
    check_samples: int = 0  # the other calibration inputs, where their outputs were compared with float
    error_without: float | None = None  # mean squared int8-vs-float output error on the check inputs
    error_with: float | None = None

    def line(self) -> str:
        if self.mode != "auto":
            return f"bias correction {self.mode} (--{'' if self.applied else 'no-'}bias-correct)"
        if self.error_with is None:
            return (f"bias correction off (auto): {self.fit_samples + self.check_samples} calibration inputs are too "
                    f"few to check it on {MIN_HALF} held-out ones; --bias-correct forces it")
        verdict = "kept" if self.applied else "left off"
        return (f"bias correction {verdict} (auto): int8 output error against float on {self.check_samples} held-out "
                f"calibration inputs {self.error_with:.3g} with it, {self.error_without:.3g} without "
                f"(both fitted on the other {self.fit_samples})")

    def to_dict(self) -> dict:
        return {"mode": self.mode, "applied": self.applied, "fit_samples": self.fit_samples,
                "check_samples": self.check_samples, "error_without": self.error_without,
                "error_with": self.error_with, "line": self.line()}


def fixed_choice(bias_correct: bool) -> BiasChoice:
    return BiasChoice("on" if bias_correct else "off", bias_correct)


def choose_bias_correction(build, model, calibration_inputs: np.ndarray, quant, workdir: Path) -> BiasChoice:
    """The auto choice. `build(model, inputs, quant, workdir) -> int8 TFLite bytes` quantizes with a fixed setting;
    fit and check halves interleave (every other input), so classes stored in order stay balanced."""
    fit, check = calibration_inputs[0::2], calibration_inputs[1::2]
    if len(check) < MIN_HALF:
        return BiasChoice("auto", False, len(fit), len(check))
    reference = np.asarray(model.predict(check, batch_size=32, verbose=0), np.float64)
    errors = {}
    for corrected in (False, True):
        path = workdir / f"bias_check_{int(corrected)}.tflite"
        path.write_bytes(build(model, fit, replace(quant, bias_correct=corrected), workdir / path.stem))
        errors[corrected] = mean_squared_error(reference, dequantized_outputs(path, check))
    return BiasChoice("auto", errors[True] < errors[False], len(fit), len(check), errors[False], errors[True])
