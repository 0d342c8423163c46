"""`mnd export`: quantize, write every artifact, validate, measure on the target, report — atomically."""
import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline import rundir
from pipeline.environment import environment
from pipeline.export_data import load_export_data
from pipeline.formats.c_array import c_identifier, parse_c_array, write_c_array
from pipeline.formats.onnx import softmax_input_copy, write_onnx_float, write_onnx_int8
from pipeline.formats.tflite import write_tflite_float, write_tflite_int8
from pipeline.manifest import Manifest
from pipeline.model_inputs import inputs_for
from pipeline.report import write_report
from pipeline.sandbox import run_model, tflm_arena_bytes
from pipeline.sources import ModelSource
from pipeline.tflite_model import read_tflite
from pipeline import validate
from quantize.config import QuantConfig
from quantize.ptq import export_saved_model
from targets.base import MeasureSettings, TargetUnavailable, get_target

log = logging.getLogger("mnd")


@dataclass(frozen=True)
class ExportConfig:
    target: str = "host"
    calib: str | None = None
    evaluation: str | None = None
    quant: QuantConfig = QuantConfig()
    evaluation_samples: int | None = None
    max_drop: float = 2.0
    allow_drift: bool = False
    measure: MeasureSettings = MeasureSettings()


def check_target(name: str):
    target = get_target(name)
    reason = target.check()
    if reason:
        raise TargetUnavailable(f"{name}: {reason}")
    return target


def export(source: ModelSource, out: Path, config: ExportConfig, force: bool = False) -> Manifest:
    rundir.refuse_existing(out, force)
    target = check_target(config.target)
    import keras

    model = keras.models.load_model(source.keras_path, compile=False, safe_mode=True)
    classes = int(model.output_shape[-1])
    calib_inputs, evaluation, data_doc = load_export_data(source, config.calib, config.evaluation,
                                                          config.quant.calibration_samples, classes,
                                                          config.evaluation_samples)
    manifest = Manifest(
        model={"name": source.name, "alpha": source.alpha, "input_shape": [1, *model.input_shape[1:]],
               "classes": classes, "labels": list(source.labels), "preprocessing": source.prep.to_dict(),
               "source": str(source.run_dir or source.keras_path)},
        quantization={"scheme": config.quant.scheme, "calibration_samples": len(calib_inputs)},
        data=data_doc, target={"name": target.name, "options": {"threads": config.measure.threads}},
        environment=environment())
    staging = rundir.staging_dir(out)
    try:
        manifest = _write_artifacts(model, source, calib_inputs, evaluation, staging, manifest)
        validations = _validations(model, staging, manifest, evaluation, config)
        manifest = replace(manifest, validations=validations)
        validate.enforce(validations, config.allow_drift)
        manifest = replace(manifest, measurements=target.measure(staging, manifest, evaluation, config.measure))
        manifest.write(staging)
        write_report(staging, manifest, str(out))
    except BaseException:
        rundir.discard(staging)
        raise
    rundir.publish(staging, out)
    return manifest


def _write_artifacts(model, source, calib_inputs, evaluation, run_dir: Path, manifest: Manifest) -> Manifest:
    name = c_identifier(source.name)
    with tempfile.TemporaryDirectory(prefix="mnd-savedmodel-") as tmp:
        saved_model = export_saved_model(model, Path(tmp) / "saved_model")
        log.info("converting to TFLite float and int8 (%d calibration samples)", len(calib_inputs))
        float_path = write_tflite_float(saved_model, run_dir / f"{name}_float.tflite")
        int8_path = write_tflite_int8(saved_model, calib_inputs, run_dir / f"{name}_int8.tflite")
    log.info("converting to ONNX float (tf2onnx) and int8 (onnxruntime, QDQ per-channel)")
    onnx_float = write_onnx_float(model, run_dir / f"{name}_float.onnx")
    onnx_int8 = write_onnx_int8(onnx_float, calib_inputs, run_dir / f"{name}_int8.onnx")
    log.info("measuring the TFLite-Micro arena and writing C arrays")
    arena = tflm_arena_bytes(int8_path, inputs_for(int8_path, evaluation.float_inputs[:1])[0])
    c_files = write_c_array(int8_path, run_dir / "tflm", name, list(source.labels), arena)
    for kind, path in [("tflite_float", float_path), ("tflite_int8", int8_path), ("onnx_float", onnx_float),
                       ("onnx_int8", onnx_int8), *c_files.items()]:
        manifest = manifest.with_artifact(run_dir, kind, path)
    return replace(manifest, model={**manifest.model, "tflm_arena_bytes": arena})


def _logits(model, inputs: np.ndarray) -> np.ndarray:
    """Keras outputs before a final softmax, else the outputs themselves."""
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        model = keras.Model(model.inputs, last.input)
    return np.asarray(model.predict(inputs, batch_size=64, verbose=0))


def _validations(model, run_dir: Path, manifest: Manifest, evaluation, config: ExportConfig) -> tuple:
    path = lambda kind: run_dir / manifest.artifact(kind).path  # noqa: E731
    labels, x, n = evaluation.labels, evaluation.float_inputs, len(evaluation.labels)
    log.info("validating on %d evaluation samples", n)
    keras_logits = _logits(model, x)  # argmax of logits = argmax of softmax: float accuracy from these too

    float_info = read_tflite(path("tflite_float").read_bytes())
    tflite_float = run_model("litert", path("tflite_float"), x, tensor=float_info.softmax_input).outputs
    with tempfile.TemporaryDirectory(prefix="mnd-validate-") as tmp:
        onnx_with_logits = Path(tmp) / "logits.onnx"
        logits_name = softmax_input_copy(path("onnx_float"), onnx_with_logits)
        onnx_float = run_model("onnxruntime", onnx_with_logits if logits_name else path("onnx_float"), x,
                               tensor=logits_name).outputs
        tflm_model = Path(tmp) / "from_c_array.tflite"
        tflm_model.write_bytes(parse_c_array(path("tflm_c_source")))
        int8_inputs = inputs_for(path("tflite_int8"), x)
        reference = run_model("litert-ref", path("tflite_int8"), int8_inputs).outputs
        tflm = run_model("tflm", tflm_model, int8_inputs, arena_size=manifest.model["tflm_arena_bytes"]).outputs
    onnx_int8 = run_model("onnxruntime", path("onnx_int8"), x).outputs
    return (
        validate.float_close("tflite_float vs keras (logits)", tflite_float.reshape(keras_logits.shape), keras_logits),
        validate.float_close("onnx_float vs keras (logits)", onnx_float.reshape(keras_logits.shape), keras_logits),
        validate.bit_exact("tflm (from .cc) vs litert reference", tflm, reference),
        validate.top1_agreement("onnx_int8 vs tflite_int8 top-1", onnx_int8, reference),
        validate.accuracy_drop("int8 vs float accuracy drop (points)", validate.accuracy(reference, labels),
                               validate.accuracy(keras_logits, labels), config.max_drop, n),
    )
