"""The PTQ settings `mnd quantize-report --compare` sets side by side: per-channel weights, and per-tensor weights
bare, equalized, and equalized and bias-corrected (Krishnamoorthi 2018; Nagel et al. 2019)."""
from dataclasses import replace

from mnd.quantize.config import QuantConfig

COMPARED = (("per-channel", {"weights": "per-channel", "equalize": False, "bias_correct": False}),
            ("per-tensor", {"weights": "per-tensor", "equalize": False, "bias_correct": False}),
            ("per-tensor + equalize", {"weights": "per-tensor", "equalize": True, "bias_correct": False}),
            ("per-tensor + equalize + bias-correct", {"weights": "per-tensor", "equalize": True, "bias_correct": True}))


def label(quant: QuantConfig) -> str:
    extras = [name for name, on in (("equalize", quant.equalize), ("bias-correct", quant.bias_correct)) if on]
    if quant.bias_correct is None:
        extras.append("bias-correct auto")
    return " + ".join([quant.weights, *extras])


def compared(base: QuantConfig) -> list:
    """(label, QuantConfig) for each compared setting; the calibration method and sample count stay `base`'s."""
    return [(name, replace(base, **fields)) for name, fields in COMPARED]
