"""Export of a float Keras model (trained here, .keras, legacy .h5, SavedModel): PTQ and every artifact."""
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from mnd.base.progress import phase
from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.runtimes.sandbox import run_model, tflm_arena_bytes
from mnd.base.tempdirs import temporary_directory
from mnd.base.tflite.read import read_tflite
from mnd.pipeline import validate
from mnd.pipeline.formats.c_array import c_identifier, parse_c_array, write_c_array
from mnd.pipeline.formats.onnx import softmax_input_copy, write_onnx_float, write_onnx_int8
from mnd.pipeline.formats.tflite import write_tflite_float
from mnd.pipeline.report.confusion import confusion_record
from mnd.quantize.config import QuantConfig
from mnd.quantize.float_logits import float_logits
from mnd.quantize.int8_model import build_int8
from mnd.quantize.int8_outputs import dequantized_outputs
from mnd.quantize.layer_quality import layer_quality
from mnd.quantize.ptq import export_saved_model

log = logging.getLogger("mnd")
WEIGHT_WORDS = {"per-channel": "per output channel", "per-tensor": "per tensor (one scale per weight tensor)"}


class KerasExport:
    needs_calibration = True
    repairs = ()  # a Keras graph is quantized here, never repaired

    def __init__(self, source, quant: QuantConfig):
        self.source, self.quant = source, quant
        self.model = source.loaded
        self.classes = int(self.model.output_shape[-1])
        self.input_shape = [1, *self.model.input_shape[1:]]

    def warnings(self) -> list:
        return []

    def input_quantization(self) -> None:
        return None  # float model; the int8 artifact's own input quantization is in its C header

    def quantization(self, config, calibration_count: int) -> dict:
        q = self.quant
        return {"scheme": q.scheme, "calibration_samples": calibration_count,
                "weights": f"symmetric int8 {WEIGHT_WORDS[q.weights]} (FULLY_CONNECTED rewritten as a 1x1 CONV_2D, "
                           "which TFLite-Micro and LiteRT's reference kernels round identically)",
                "activations": "asymmetric int8 per tensor", **quant_settings(q), **onnx_weights(q)}

    def artifacts(self, run_dir: Path, manifest, calib_inputs, evaluation, build):
        """The int8 .tflite, and the float .tflite, ONNX and C arrays as `build` (--formats) asks."""
        name = c_identifier(self.source.name)
        quant = self.quant
        with temporary_directory("mnd-savedmodel-") as tmp:
            saved_model = export_saved_model(self.model, Path(tmp) / "saved_model")
            if build.wants("tflite"):
                with build.timed() as written, phase("converting to TFLite float"):
                    float_path = write_tflite_float(saved_model, run_dir / f"{name}_float.tflite")
                    written.append(("tflite_float", float_path))
                manifest = manifest.with_artifact(run_dir, "tflite_float", float_path)
            with build.timed() as written, phase(
                    f"calibrating and converting to TFLite int8 ({len(calib_inputs)} calibration samples, "
                    f"{quant.weights} weights, {quant.calibration} ranges)"):
                built = build_int8(self.model, calib_inputs, quant, Path(tmp))
                int8_path = run_dir / f"{name}_int8.tflite"
                int8_path.write_bytes(built.tflite)
                written.append(("tflite_int8", int8_path))
            manifest = manifest.with_artifact(run_dir, "tflite_int8", int8_path)
            with phase("per-layer quantization error (TensorFlow's QuantizationDebugger)"):
                layers = layer_quality(built.calibrated, quant.weights, evaluation.float_inputs)
        if build.wants("onnx"):
            with build.timed() as written, phase("converting to ONNX float (tf2onnx)"):
                onnx_float = write_onnx_float(self.model, run_dir / f"{name}_float.onnx")
                written.append(("onnx_float", onnx_float))
            with build.timed() as written, phase(f"calibrating and quantizing ONNX int8 (onnxruntime, QDQ "
                                                 f"{quant.weights})"):
                onnx_int8 = self._onnx_int8(onnx_float, built.prepared, calib_inputs, quant,
                                            run_dir / f"{name}_int8.onnx")
                written.append(("onnx_int8", onnx_int8))
            manifest = manifest.with_artifact(run_dir, "onnx_float", onnx_float)
            manifest = manifest.with_artifact(run_dir, "onnx_int8", onnx_int8)
        manifest = with_build(manifest, built, layers=[layer.to_dict() for layer in layers])
        if build.wants("tflm"):
            manifest = add_c_arrays(manifest, run_dir, int8_path, name, self.source.labels, evaluation, build)
        return manifest

    def _onnx_int8(self, onnx_float: Path, prepared, calib_inputs, quant, path: Path) -> Path:
        """ONNX int8 from the same float model the TFLite int8 one came from (the prepared one when it changed)."""
        with temporary_directory("mnd-onnx-prepared-") as tmp:
            source = onnx_float if prepared is self.model else write_onnx_float(prepared, Path(tmp) / "prepared.onnx")
            return write_onnx_int8(source, calib_inputs, path, reduce_range=quant.onnx_reduce_range,
                                   weights=quant.weights, calibration=quant.calibration)

    def int8_artifact_only(self, run_dir: Path, manifest, calib_inputs, build):
        """Cost-only exports (mnd sweep --cost-only): the int8 TFLite model alone, what the targets measure."""
        int8_path = run_dir / f"{c_identifier(self.source.name)}_int8.tflite"
        with temporary_directory("mnd-savedmodel-") as tmp, build.timed() as written:
            with phase(f"calibrating and converting to TFLite int8 ({len(calib_inputs)} random calibration inputs)"):
                built = build_int8(self.model, calib_inputs, self.quant, Path(tmp))
            int8_path.write_bytes(built.tflite)
            written.append(("tflite_int8", int8_path))
        return with_build(manifest, built).with_artifact(run_dir, "tflite_int8", int8_path)

    def validations(self, run_dir: Path, manifest, evaluation, config) -> tuple:
        """(validations, confusion record of the int8 LiteRT reference kernels on the evaluation set)."""
        path = lambda kind: run_dir / manifest.artifact(kind).path  # noqa: E731
        labels, x = evaluation.labels, evaluation.float_inputs
        log.info("validating on %d evaluation samples", len(labels))
        reference, is_logits = float_logits(self.model, x)  # argmax(logits) = argmax(softmax)
        what = "logits" if is_logits else "outputs"
        int8_reference = run_model("litert-ref", path("tflite_int8"), artifact_inputs(path("tflite_int8"), evaluation),
                                   ).outputs
        int8_logits = lambda rows: (dequantized_outputs(path("tflite_int8"), x[rows], logits=is_logits),  # noqa: E731
                                    reference[rows])

        def tflite_float():
            tensor = read_tflite(path("tflite_float").read_bytes()).softmax_input if is_logits else None
            outputs = run_model("litert", path("tflite_float"), x, tensor=tensor).outputs
            return validate.float_close(f"tflite_float vs keras ({what})", outputs.reshape(reference.shape), reference)

        def onnx_float():
            outputs = run_onnx_logits(path("onnx_float"), x) if is_logits \
                else run_model("onnxruntime", path("onnx_float"), x).outputs
            return validate.float_close(f"onnx_float vs keras ({what})", outputs.reshape(reference.shape), reference)

        def onnx_int8():
            outputs = run_model("onnxruntime-exact", path("onnx_int8"), x).outputs
            return validate.onnx_exact_agreement("onnx_int8 vs tflite_int8 top-1", outputs, int8_reference, int8_logits)

        checks = validate.run_checks(manifest, (
            validate.Check(("tflite_float",), tflite_float),
            validate.Check(("onnx_float",), onnx_float),
            validate.Check(("tflm_c_source",), lambda: tflm_bit_exact(run_dir, manifest, evaluation, int8_reference)),
            validate.Check(("onnx_int8", "tflite_int8"), onnx_int8),
            validate.Check(("tflite_int8",), lambda: validate.accuracy_drop(
                "int8 vs float accuracy drop (points)", validate.accuracy(int8_reference, labels),
                validate.accuracy(reference, labels), config.max_drop, len(labels))),
        ))
        return checks, confusion_record(int8_reference, labels, self.source.labels, "litert-ref", "tflite_int8")


def with_build(manifest, built, **more):
    """The manifest's quantization section with what building the int8 model decided and did."""
    return replace(manifest, quantization={**manifest.quantization, **quant_settings(built.quant),
                                           "bias_correction": built.bias_choice.to_dict(), "float_model": built.notes,
                                           "float_model_changes": built.records, **more})


def quant_settings(quant) -> dict:
    """The PTQ choices as the manifest records them (and as the export reads them back); bias_correct None ("auto")
    until the int8 model is built (with_build), False where mnd does not quantize the float model."""
    return {"weights_scheme": quant.weights, "calibration": quant.calibration, "equalize": quant.equalize,
            "bias_correct": quant.bias_correct}


def onnx_weights(quant) -> dict:
    """The ONNX int8 weight range, for the manifest's quantization section (write_onnx_int8 follows it)."""
    weights = f"symmetric int8 {WEIGHT_WORDS[quant.weights]}"
    if quant.onnx_reduce_range:
        weights += (", 7-bit range -64..64 (--onnx-reduce-range: ONNX Runtime's fused kernels on x86 CPUs without "
                    "VNNI cannot saturate)")
    return {"onnx_weights": weights, "onnx_reduce_range": quant.onnx_reduce_range}


def run_onnx_logits(path: Path, inputs: np.ndarray) -> np.ndarray:
    with temporary_directory("mnd-logits-") as tmp:
        copy = Path(tmp) / "logits.onnx"
        name = softmax_input_copy(path, copy)
        return run_model("onnxruntime", copy if name else path, inputs, tensor=name,
                         shown=f"{path.name} (logits)").outputs


def add_c_arrays(manifest, run_dir: Path, int8_path: Path, name: str, labels, evaluation, build):
    """The TFLite-Micro C files (one step: the arena search, then the three files), each logged with its size."""
    with build.timed() as written, phase("searching the smallest TFLite-Micro arena, writing C arrays"):
        arena = tflm_arena_bytes(int8_path, artifact_inputs(int8_path, evaluation)[0])
        written += write_c_array(int8_path, run_dir / "tflm", name, list(labels), arena).items()
    for kind, path in written:
        manifest = manifest.with_artifact(run_dir, kind, path)
    return replace(manifest, model={**manifest.model, "tflm_arena_bytes": arena})


def tflm_bit_exact(run_dir: Path, manifest, evaluation, int8_reference: np.ndarray):
    """TFLM running the bytes parsed back from the generated .cc vs LiteRT reference kernels."""
    int8_path = run_dir / manifest.artifact("tflite_int8").path
    with temporary_directory("mnd-tflm-") as tmp:
        from_c_array = Path(tmp) / "from_c_array.tflite"
        from_c_array.write_bytes(parse_c_array(run_dir / manifest.artifact("tflm_c_source").path))
        tflm = run_model("tflm", from_c_array, artifact_inputs(int8_path, evaluation),
                         arena_size=manifest.model["tflm_arena_bytes"],
                         shown=manifest.artifact("tflm_c_source").path).outputs
    return validate.bit_exact("tflm (from .cc) vs litert reference", tflm, int8_reference)
