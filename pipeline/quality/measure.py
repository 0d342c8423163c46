"""One PTQ setting on one model: the int8 model's top-1 (LiteRT reference kernels) and its per-layer error."""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnd.base.tempdirs import temporary_directory
from mnd.pipeline.validate import top1
from mnd.quantize.config import QuantConfig
from mnd.quantize.int8_model import build_int8
from mnd.quantize.int8_outputs import dequantized_outputs, sqnr_db
from mnd.quantize.layer_quality import layer_quality


@dataclass
class SchemeResult:
    label: str
    quant: QuantConfig
    correct: int  # int8 top-1 hits on the evaluation samples
    n: int
    layers: list  # per-layer dicts (quantize.layer_quality), flagged by quantize.layer_flags
    notes: list = field(default_factory=list)  # what was done to the float model
    predictions: np.ndarray | None = None  # int8 top-1 per evaluation sample
    # the int8 model's output against the original float model's, on every evaluation sample (the per-layer SQNR of
    # `layers` compares with the float model as prepared: after bias correction, that is not the original)
    output_sqnr_db: float | None = None
    records: dict = field(default_factory=dict)  # pair by pair and layer by layer: equalization, bias correction

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    def to_dict(self) -> dict:
        return {"label": self.label, "weights": self.quant.weights, "calibration": self.quant.calibration,
                "equalize": self.quant.equalize, "bias_correct": self.quant.bias_correct, "correct": self.correct,
                "n": self.n, "accuracy": self.accuracy, "notes": self.notes, "output_sqnr_db": self.output_sqnr_db,
                "layers": self.layers, "float_model_changes": self.records}


def float_predictions(model, inputs: np.ndarray) -> np.ndarray:
    return top1(np.asarray(model.predict(inputs, batch_size=64, verbose=0)))


def versus_float(int8_top1: np.ndarray, float_top1: np.ndarray, labels: np.ndarray) -> dict:
    """On the same samples: how many only the int8 model classifies right, and how many only the float model (the
    samples that make the difference between their accuracies)."""
    int8_right, float_right = int8_top1 == labels, float_top1 == labels
    return {"int8_only_correct": int((int8_right & ~float_right).sum()),
            "float_only_correct": int((float_right & ~int8_right).sum())}


def measure_scheme(label: str, model, calibration_inputs: np.ndarray, inputs: np.ndarray, labels: np.ndarray,
                   quant: QuantConfig, quality_samples: int) -> SchemeResult:
    """`inputs`: float evaluation inputs; the first `quality_samples` of them also go through the per-layer check."""
    with temporary_directory("mnd-quality-") as tmp:
        built = build_int8(model, calibration_inputs, quant, Path(tmp))
        path = Path(tmp) / "int8.tflite"
        path.write_bytes(built.tflite)
        outputs = dequantized_outputs(path, inputs)
        layers = layer_quality(built.calibrated, built.quant.weights, inputs, quality_samples)
    predictions = top1(outputs)
    reference = np.asarray(model.predict(inputs, batch_size=64, verbose=0))
    return SchemeResult(label, built.quant, int((predictions == labels).sum()), len(labels),
                        [layer.to_dict() for layer in layers], built.notes, predictions, sqnr_db(reference, outputs),
                        built.records)
