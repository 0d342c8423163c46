"""int8 PTQ quality (`make bench`): per-channel vs per-tensor weights, equalization and bias correction, the
activation-range methods, and accuracy against calibration count, on vww_96.h5 (two-fold on vww_dev: calibrate on
one half, evaluate on the other, then swap, so every figure rests on all 200 images) and on the digits model
(calibrated on its training split, evaluated on its held-out split)."""
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.plan import load_export_data
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.environment import cpu_facts
from mnd.pipeline.quality.measure import float_predictions, measure_scheme
from mnd.pipeline.quality.schemes import compared
from mnd.pipeline.report.quantization_plots import sqnr_by_depth_compare_png
from mnd.pipeline.sources.resolve import resolve_model
from mnd.quantize.config import CALIBRATION_METHODS, QuantConfig
from mnd.quantize.int8_model import build_int8
from mnd.quantize.int8_outputs import dequantized_outputs, sqnr_db
from tests.bench.assets import assets_dir

QUALITY_SAMPLES = 50
CALIBRATION_COUNTS = (8, 16, 32, 64, 100)
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
CACHE = Path(os.environ.get("MND_CACHE") or Path.home() / ".cache" / "mnd")


class TwoFold:
    """vww_dev split into two random halves (seeded); each figure sums both directions."""

    def __init__(self, model, x: np.ndarray, labels: np.ndarray):
        self.model, self.x, self.labels = model, x, labels
        self.all_calibration = x
        self.float_top1 = float_predictions(model, x)
        order = np.random.default_rng(0).permutation(len(labels))
        self.halves = (order[::2], order[1::2])

    def run(self, name: str, quant: QuantConfig, calibration_count: int | None = None) -> "Outcome":
        results = []
        for calib, held_out in (self.halves, self.halves[::-1]):
            result = measure_scheme(name, self.model, self.x[calib[:calibration_count]], self.x[held_out],
                                    self.labels[held_out], quant, QUALITY_SAMPLES)
            results.append((result, result.predictions != self.float_top1[held_out]))
        return Outcome.of(results)


class HeldOut:
    """The digits model: calibration from its training split, evaluation on its held-out split."""

    def __init__(self, model, calib: np.ndarray, x: np.ndarray, labels: np.ndarray):
        self.model, self.calib, self.x, self.labels = model, calib, x, labels
        self.all_calibration = calib
        self.float_top1 = float_predictions(model, x)

    def run(self, name: str, quant: QuantConfig, calibration_count: int | None = None) -> "Outcome":
        calib = self.calib[np.random.default_rng(0).permutation(len(self.calib))[:calibration_count]]
        result = measure_scheme(name, self.model, calib, self.x, self.labels, quant, QUALITY_SAMPLES)
        return Outcome.of([(result, result.predictions != self.float_top1)])


@dataclass
class Outcome:
    """One setting over every fold: top-1 hits, the first fold's per-layer records, top-1 differing from float, the
    output SQNR against the original float model per fold, and what bias correction did per fold."""
    correct: int
    layers: list
    differing: int
    output_sqnr: list
    bias: list

    @classmethod
    def of(cls, results: list) -> "Outcome":
        return cls(sum(r.correct for r, _ in results), results[0][0].layers, sum(int(d.sum()) for _, d in results),
                   [r.output_sqnr_db for r, _ in results],
                   ["on" if r.quant.bias_correct else "off" for r, _ in results])

    def sqnr_text(self) -> str:
        return " / ".join("exact" if value is None else f"{value:.1f} dB" for value in self.output_sqnr)


def _vww():
    assets = assets_dir()
    source = resolve_model(str(assets / "mlperf_vww" / "vww_96.h5"), CACHE, 0, 0)
    images = load_dataset(str(assets / "vww_dev"), source.prep, 2)
    return source, TwoFold(source.loaded, source.prep.apply(images.pixels), images.labels)


def _digits():
    source = resolve_model(None, CACHE, 30, 0)
    calib, evaluation, _ = load_export_data(source, None, None, 200, int(source.loaded.output_shape[-1]))
    return source, HeldOut(source.loaded, calib, evaluation.float_inputs, evaluation.labels)


def _percent(correct: int, n: int) -> str:
    return f"{100 * correct / n:.2f}%"


CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _min_sqnr(layers: list, key: str, ops: tuple | None = None) -> str:
    values = [(layer[key], layer["name"]) for layer in layers
              if layer.get(key) is not None and (ops is None or layer["op"] in ops)]
    return f"{min(values)[0]:.1f} dB ({min(values)[1]})" if values else "—"


def _schemes(name: str, experiment, n: int, float_hits: int) -> tuple:
    lines = [f"### {name}: weight schemes", "", f"float: {_percent(float_hits, n)} (n={n})", "",
             "| setting | int8 top-1 | vs float (points) | top-1 differing from float | lowest layer SQNR, "
             "convolutions | lowest layer SQNR, all layers | lowest accumulated SQNR |",
             "|---|---|---|---|---|---|---|"]
    curves, hits = {}, {}
    for label, quant in compared(QuantConfig()):
        outcome = experiment.run(label, quant)
        correct, layers, differing = outcome.correct, outcome.layers, outcome.differing
        curves[label], hits[label] = layers, correct
        lines.append(f"| {label} | {_percent(correct, n)} | {100 * (correct - float_hits) / n:+.2f} | "
                     f"{differing} / {n} | {_min_sqnr(layers, 'layer_sqnr_db', CONVOLUTIONS)} | "
                     f"{_min_sqnr(layers, 'layer_sqnr_db')} | {_min_sqnr(layers, 'sqnr_db')} |")
    return lines + [""] + _goals(hits, curves, float_hits, n), curves


def _lowest(layers: list, ops: tuple) -> float:
    return min(layer["layer_sqnr_db"] for layer in layers if layer["op"] in ops and layer["layer_sqnr_db"] is not None)


def _goals(hits: dict, curves: dict, float_hits: int, n: int) -> list:
    """The issue's bars, computed from the rows above."""
    points = lambda a, b: 100 * (a - b) / n  # noqa: E731
    per_channel, best_tensor = hits["per-channel"], hits["per-tensor + equalize + bias-correct"]
    lowest = {label: _lowest(layers, CONVOLUTIONS) for label, layers in curves.items()}
    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    return [f"- per-channel int8 vs float: {points(per_channel, float_hits):+.2f} points (goal: within 0.5): "
            f"{verdict(abs(points(per_channel, float_hits)) <= 0.5)}",
            f"- per-tensor + equalize + bias-correct vs per-channel: {points(best_tensor, per_channel):+.2f} points "
            f"(goal: within 1.0): {verdict(points(best_tensor, per_channel) >= -1.0)}",
            f"- lowest convolution-layer SQNR, per-tensor {lowest['per-tensor']:.1f} dB vs per-channel "
            f"{lowest['per-channel']:.1f} dB (per-tensor lower: "
            f"{verdict(lowest['per-tensor'] < lowest['per-channel'])})"]


def _ranges(name: str, experiment, n: int) -> list:
    lines = ["", f"### {name}: activation ranges and bias correction (per-channel weights)", "",
             "Output SQNR: the int8 model's output against the original float model's on the held-out images "
             "(per fold), which is what bias correction aims at; the per-layer figures compare with the float model "
             "as prepared, after bias correction no longer the original.", "",
             "| calibration | bias correction | int8 top-1 | top-1 differing from float | output SQNR per fold |",
             "|---|---|---|---|---|"]
    for method in CALIBRATION_METHODS:
        for bias_correct in (False, True, None):
            outcome = experiment.run(method, QuantConfig(calibration=method, bias_correct=bias_correct))
            setting = {False: "off", True: "on", None: f"auto ({' / '.join(outcome.bias)})"}[bias_correct]
            lines.append(f"| {method} | {setting} | {_percent(outcome.correct, n)} | {outcome.differing} / {n} | "
                         f"{outcome.sqnr_text()} |")
    return lines


def _default_export(experiment) -> list:
    """What the default settings decide when every calibration image is used (`mnd export --calib vww_dev --eval
    OTHER`; for digits, its whole training split)."""
    calibration = experiment.all_calibration[:QuantConfig().calibration_samples]
    with tempfile.TemporaryDirectory() as tmp:
        built = build_int8(experiment.model, calibration, QuantConfig(), Path(tmp))
    return ["", f"Default export calibrated on {len(calibration)} images: {built.bias_choice.line()}."]


def _counts(name: str, experiment, n: int) -> list:
    lines = ["", f"### {name}: accuracy against calibration count (defaults)", "",
             "| calibration samples | int8 top-1 | bias correction (auto), per fold |", "|---|---|---|"]
    for count in CALIBRATION_COUNTS:
        outcome = experiment.run(str(count), QuantConfig(calibration_samples=count), count)
        lines.append(f"| {count} | {_percent(outcome.correct, n)} | {' / '.join(outcome.bias)} |")
    return lines


def _imagenet_features() -> tuple:
    """Keras-Applications MobileNet v1 0.25-224 without its classifier (ReLU6, ImageNet weights) and imagenet_dev,
    signed preprocessing, 0.875 centre crop: no labels here, so its figure is the int8 feature map's SQNR."""
    import keras

    assets = assets_dir()
    weights = assets / "keras_mobilenet_025_notop" / "mobilenet_2_5_224_tf_no_top.h5"
    model = keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=0.25, include_top=False, weights=str(weights))
    images = load_dataset(str(assets / "imagenet_dev"), Preprocessing(mode="signed", crop_fraction=0.875), 1000)
    x = Preprocessing(mode="signed").apply(images.pixels)
    order = np.random.default_rng(0).permutation(len(x))
    return model, x[order[::2]], x[order[1::2]]


def _feature_sqnr_lines() -> list:
    model, calib, held_out = _imagenet_features()
    reference = np.asarray(model.predict(held_out, batch_size=16, verbose=0))
    lines = ["", "### MobileNet v1 0.25-224 (Keras Applications, ImageNet, ReLU6, no classifier) on imagenet_dev: "
             "int8 feature-map SQNR", "",
             f"Calibrated on {len(calib)} images; SQNR of the int8 output (LiteRT reference kernels) against the "
             f"original float model's on the {len(held_out)} others.", "",
             "| weights | calibration | bias correction | equalize | output SQNR |", "|---|---|---|---|---|"]
    settings = [QuantConfig(calibration=method, bias_correct=bias) for method in CALIBRATION_METHODS
                for bias in (False, True)] + [QuantConfig()]
    settings += [QuantConfig(weights="per-tensor", equalize=eq, bias_correct=bias) for eq, bias in
                 ((False, False), (True, False), (True, True))]
    for quant in settings:
        with tempfile.TemporaryDirectory() as tmp:
            built = build_int8(model, calib, quant, Path(tmp))
            path = Path(tmp) / "int8.tflite"
            path.write_bytes(built.tflite)
            value = sqnr_db(reference, dequantized_outputs(path, held_out))
        applied = "on" if built.quant.bias_correct else "off"
        setting = applied if quant.bias_correct is not None else f"auto ({applied})"
        lines.append(f"| {quant.weights} | {quant.calibration} | {setting} | {'on' if quant.equalize else 'off'} | "
                     f"{'exact' if value is None else f'{value:.1f} dB'} |")
    return lines


def _plot(curves: dict, slug: str, title: str) -> str:
    IMAGES.mkdir(parents=True, exist_ok=True)
    (IMAGES / f"quant-sqnr-{slug}.png").write_bytes(sqnr_by_depth_compare_png(curves, title))
    return f"![SQNR by depth, {title}](images/quant-sqnr-{slug}.png)"


def run() -> str:
    cpu = cpu_facts()
    lines = ["## int8 PTQ quality: weight schemes, equalization, bias correction, ranges (`make bench`)", "",
             f"Machine: {cpu.get('cpu_model')}. int8 top-1 with LiteRT's reference kernels; per-layer SQNR from "
             "TensorFlow's QuantizationDebugger on the first "
             f"{QUALITY_SAMPLES} evaluation images (accumulated: int8 model vs float model at each layer's output).",
             ""]
    with tempfile.TemporaryDirectory():
        for name, slug, load in (("vww_96.h5, two-fold on vww_dev", "vww", _vww),
                                 ("mobilenet_v1_025_32 on digits, held-out split", "digits", _digits)):
            source, experiment = load()
            n = len(experiment.labels)
            float_hits = int((experiment.float_top1 == experiment.labels).sum())
            scheme_lines, curves = _schemes(name, experiment, n, float_hits)
            lines += scheme_lines + ["", _plot(curves, slug, name)]
            lines += _ranges(name, experiment, n) + _default_export(experiment) + _counts(name, experiment, n) + [""]
        lines += _feature_sqnr_lines()
    return "\n".join(lines)
