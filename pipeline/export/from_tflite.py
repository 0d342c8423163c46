"""Export of an imported .tflite file: float, int8 (already quantized) or uint8 (quantization-aware trained).

Only what can honestly be derived is produced; the rest is named with the reason in the manifest warnings.
"""
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from mnd.base.errors import ModelError, UsageError
from mnd.base.progress import phase
from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.runtimes.sandbox import run_model
from mnd.base.tflite.read import read_tflite
from mnd.base.tflite.repair import repair_tflite, requantize_uint8_to_int8
from mnd.pipeline import validate
from mnd.pipeline.export.from_keras import add_c_arrays, onnx_weights, quant_settings, run_onnx_logits, tflm_bit_exact
from mnd.pipeline.formats.c_array import c_identifier
from mnd.pipeline.formats.onnx import write_onnx_from_tflite, write_onnx_int8
from mnd.pipeline.manifest import Validation
from mnd.pipeline.report.confusion import confusion_record
from mnd.pipeline.sources.tflite_boundary import ZERO_POINT_SHIFT, strip_uint8_boundary
from mnd.quantize.config import QuantConfig

log = logging.getLogger("mnd")
NO_PTQ_FROM_TFLITE = ("cannot be produced from a .tflite file: post-training quantization needs the float graph; "
                      "export the Keras/SavedModel original to get it")
UINT8_TO_TFLM = ("refused for a uint8 model: TFLite-Micro rejects uint8 weights (it treats them as a hybrid "
                 "model), and uint8 weights with non-zero zero points cannot be moved to int8 exactly; "
                 "pass --requantize-int8 for an explicit, lossy conversion")
BOUNDARY_NOTE = ("int8 between uint8 QUANTIZE ops: tflite_int8 is the int8 graph inside, the two QUANTIZE ops dropped "
                 "(exact: same scale, zero point moved by 128), its inputs and outputs the uint8 ones minus 128")
_DEFAULT = QuantConfig()
QUANT_FLAGS = {  # the PTQ options, each with how a setting differs from the default
    "--onnx-reduce-range": lambda q: q.onnx_reduce_range, "--weights": lambda q: q.weights != _DEFAULT.weights,
    "--calibration": lambda q: q.calibration != _DEFAULT.calibration, "--equalize": lambda q: q.equalize,
    "--bias-correct": lambda q: bool(q.bias_correct)}  # --no-bias-correct is what happens here anyway
FLOAT_MODEL_FLAGS = ("--equalize", "--bias-correct")


def precision_of(info) -> str:
    if info.is_int8:
        return "int8"
    if info.inputs[0].dtype == "uint8":
        return "uint8"
    if info.inputs[0].dtype == "float32":
        return "float"
    raise ModelError(f"{info.source}: input type {info.inputs[0].dtype} is not supported; "
                     "mnd imports float, int8 and uint8 TFLite models")


class TfliteExport:
    def __init__(self, source, requantize_int8: bool = False, quant: QuantConfig = QuantConfig()):
        self.source, self.quant = source, quant
        self.data, self.repairs = repair_tflite(source.path.read_bytes(), str(source.path))
        self.info = read_tflite(self.data, str(source.path))
        shape = self.info.inputs[0].shape
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] not in (1, 3):
            raise ModelError(f"'{source.path}' takes input {list(shape)}; mnd exports image models with a square "
                             "[1, side, side, 1 or 3] input")
        self.precision = precision_of(self.info)
        self.int8_inside = self._int8_inside_uint8_boundary(requantize_int8)
        self.requantize = requantize_int8 and self.precision == "uint8"
        if requantize_int8 and self.precision != "uint8":
            raise ModelError("--requantize-int8 applies to uint8 models only; this model is " + self.precision)
        self.needs_calibration = self.precision == "float"
        self.classes = len(source.labels)  # the source checked the output shape: [1, classes]
        self.input_shape = list(shape)
        self.not_produced = self._not_produced()
        self._check_quant_flags()

    def _int8_inside_uint8_boundary(self, requantize_int8: bool) -> bytes | None:
        """An int8 model with a uint8 interface, int8 between two uint8 QUANTIZE ops (the converter's full-integer
        models with uint8 input and output, Coral's tf2_*_ptq): the int8 model inside, the QUANTIZE ops dropped
        exactly (see sources/tflite_boundary.py); such a model is exported as uint8, its interface. Else None."""
        if self.precision != "int8" or self.info.inputs[0].dtype != "uint8" or self.info.ops[:1] != ("QUANTIZE",):
            return None
        try:
            inside = strip_uint8_boundary(self.data, str(self.source.path))
        except ModelError:
            return None
        if requantize_int8:
            raise UsageError(f"{self.source.path}: drop --requantize-int8; this model is int8 between uint8 QUANTIZE "
                             "ops, and mnd drops those exactly for the int8 targets (no lossy requantization)")
        self.precision = "uint8"
        return inside

    def _check_quant_flags(self) -> None:
        """PTQ settings name what mnd's own quantization does; refused where it does not run."""
        given = [flag for flag, differs in QUANT_FLAGS.items() if differs(self.quant)]
        float_model_flags = [flag for flag in given if flag in FLOAT_MODEL_FLAGS]
        if self.precision == "float" and float_model_flags:
            raise UsageError(f"{' and '.join(float_model_flags)} change the float Keras model before conversion; a "
                             ".tflite file has none: export the Keras/SavedModel original, or drop them")
        if self.precision == "float":  # the ONNX int8 artifact is quantized here, from the float graph as it is
            self.quant = replace(self.quant, equalize=False, bias_correct=False)
        if self.precision != "float" and given:
            raise UsageError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to models mnd quantizes "
                             f"(Keras, float .tflite); this model is already {self.precision}: its ONNX weights "
                             "are the .tflite file's own")

    def _not_produced(self) -> list:
        if self.precision == "float":
            return [f"tflite_int8 and tflm C arrays {NO_PTQ_FROM_TFLITE}"]
        if self.precision == "uint8" and not self.requantize and self.int8_inside is None:
            return [f"tflm C arrays {UINT8_TO_TFLM}"]
        return []

    def warnings(self) -> list:
        notes = []
        if self.repairs:
            more = f" and {len(self.repairs) - 1} more like it (all in the manifest's model.repairs)" \
                if len(self.repairs) > 1 else ""
            notes.append(f"repaired {len(self.repairs)} tensor(s) in the exported copy (the original file is "
                         f"untouched): {self.repairs[0]}{more}")
        if self.requantize:
            notes.append("--requantize-int8: weights were requantized from uint8 to symmetric per-channel int8 "
                         "(lossy); see the agreement with the original model under Validation")
        if self.int8_inside is not None:
            notes.append(BOUNDARY_NOTE)
        return notes + [f"not produced: {line}" for line in self.not_produced]

    def quantization(self, config, calibration_count: int) -> dict:
        if self.precision == "float":
            return {"scheme": f"{self.quant.scheme} (ONNX Runtime only)", "calibration_samples": calibration_count,
                    **quant_settings(self.quant), **onnx_weights(self.quant)}
        scheme = f"imported {self.precision} (already quantized)"
        if self.int8_inside is not None:
            scheme = "imported uint8 interface around int8 (already quantized), uint8 QUANTIZE boundary dropped (exact)"
        return {"scheme": scheme + (", requantized to int8 per-channel" if self.requantize else ""),
                "calibration_samples": None}

    def input_quantization(self) -> dict | None:
        tensor = self.info.inputs[0]
        return None if tensor.scale is None else {"dtype": tensor.dtype, "scale": tensor.scale,
                                                   "zero_point": tensor.zero_point}

    def artifacts(self, run_dir: Path, manifest, calib_inputs, evaluation, build):
        """The model's own .tflite (always), its int8 form where one is derived, and ONNX and C arrays as `build`
        (--formats) asks."""
        name = c_identifier(self.source.name)
        for suffix in ("_float", "_int8", "_uint8", "_quant"):
            name = name.removesuffix(suffix)
        own = run_dir / f"{name}_{self.precision}.tflite"
        with build.timed() as written:
            own.write_bytes(self.data)
            written.append((f"tflite_{self.precision}", own))
        manifest = manifest.with_artifact(run_dir, f"tflite_{self.precision}", own)
        int8_path = own
        if self.requantize or self.int8_inside is not None:
            int8_path = run_dir / f"{name}_int8.tflite"
            with build.timed() as written:
                int8_path.write_bytes(self.int8_inside if self.int8_inside is not None
                                      else requantize_uint8_to_int8(self.data, str(self.source.path)))
                written.append(("tflite_int8", int8_path))
            manifest = manifest.with_artifact(run_dir, "tflite_int8", int8_path)
        if build.wants("onnx"):
            manifest = self._onnx(run_dir, manifest, own, name, calib_inputs, build)
        if build.wants("tflm") and (self.precision == "int8" or self.requantize or self.int8_inside is not None):
            manifest = add_c_arrays(manifest, run_dir, int8_path, name, self.source.labels, evaluation, build)
        return manifest

    def _onnx(self, run_dir: Path, manifest, own: Path, name: str, calib_inputs, build):
        """ONNX in the model's own precision, and for a float model an int8 one quantized here."""
        with build.timed() as written, phase("converting to ONNX (tf2onnx from the .tflite file)"):
            onnx_own = write_onnx_from_tflite(own, run_dir / f"{name}_{self.precision}.onnx")
            written.append((f"onnx_{self.precision}", onnx_own))
        manifest = manifest.with_artifact(run_dir, f"onnx_{self.precision}", onnx_own)
        if self.precision != "float":
            return manifest
        q = manifest.quantization
        with build.timed() as written, phase(f"calibrating and quantizing ONNX int8 (onnxruntime, QDQ "
                                             f"{q['weights_scheme']})"):
            onnx_int8 = write_onnx_int8(onnx_own, calib_inputs, run_dir / f"{name}_int8.onnx",
                                        reduce_range=q["onnx_reduce_range"], weights=q["weights_scheme"],
                                        calibration=q["calibration"])
            written.append(("onnx_int8", onnx_int8))
        return manifest.with_artifact(run_dir, "onnx_int8", onnx_int8)

    def validations(self, run_dir: Path, manifest, evaluation, config) -> tuple:
        """(validations, confusion record of LiteRT's reference kernels on the int8 model, else on the model's
        own precision, on the evaluation set)."""
        path = lambda kind: run_dir / manifest.artifact(kind).path  # noqa: E731
        quant = manifest.model.get("input_quantization")
        labels = evaluation.labels
        log.info("validating on %d evaluation samples", len(labels))
        if self.precision == "float":
            return self._float_validations(path, manifest, evaluation, config)
        kind = f"tflite_{self.precision}"
        own_inputs = artifact_inputs(path(kind), evaluation)
        reference = run_model("litert-ref", path(kind), own_inputs).outputs
        int8 = reference  # the int8 model's outputs: the model's own, or those of the int8 form derived from it
        if self.int8_inside is not None or self.requantize:
            int8 = run_model("litert-ref", path("tflite_int8"), artifact_inputs(path("tflite_int8"), evaluation)).outputs

        def onnx_own():
            # uint8: ONNX Runtime's fused u8u8 kernels add in 32 bits on every CPU (measured: the same top-1 on an
            # emulated x86 without VNNI for all three Coral models), while the exact QDQ graph accumulates in
            # float32 and disagrees with every LiteRT kernel set on 5-8 of 200 ImageNet images; int8: see
            # validate.onnx_exact_agreement.
            runtime = "onnxruntime" if self.precision == "uint8" else "onnxruntime-exact"
            outputs = run_model(runtime, path(f"onnx_{self.precision}"),
                                artifact_inputs(path(f"onnx_{self.precision}"), evaluation, quant)).outputs
            if self.precision == "int8":
                return validate.onnx_exact_agreement(f"onnx_{self.precision} vs {kind} top-1", outputs, reference)
            # LiteRT's own uint8 kernel sets disagree with each other on near-ties (10 of 200 ImageNet images
            # for Coral 0.25_128); ONNX Runtime follows the optimized ones, which phones run.
            optimized = run_model("litert", path(kind), own_inputs).outputs
            return validate.top1_agreement("onnx_uint8 vs tflite_uint8 (LiteRT default kernels) top-1", outputs,
                                           optimized)

        def boundary_dropped():
            shifted = (reference.astype(np.int16) - ZERO_POINT_SHIFT).astype(np.int8)
            return validate.bit_exact("int8 (uint8 boundary dropped) vs tflite_uint8 - 128", int8, shifted)

        def requantized():
            agreement = validate.top1_agreement("requantized int8 vs original uint8 top-1", int8, reference)
            return Validation(agreement.name, True, agreement.value, agreement.threshold,
                              agreement.detail + " (lossy by request: reported, not gated)", False)

        checks = [validate.Check(("tflm_c_source",), lambda: tflm_bit_exact(run_dir, manifest, evaluation, int8))]
        if self.int8_inside is not None:
            checks.append(validate.Check(("tflite_int8",), boundary_dropped))
        checks.append(validate.Check((f"onnx_{self.precision}",), onnx_own))
        if self.requantize:
            checks.append(validate.Check(("tflite_int8",), requantized))
        int8_kind = "tflite_int8" if int8 is not reference else kind
        return (validate.run_checks(manifest, checks),
                confusion_record(int8, labels, self.source.labels, "litert-ref", int8_kind))

    def _float_validations(self, path, manifest, evaluation, config) -> tuple:
        x, labels = evaluation.float_inputs, evaluation.labels
        tensor = self.info.softmax_input
        own = run_model("litert", path("tflite_float"), x, tensor=tensor).outputs
        what = "logits" if tensor is not None else "outputs"

        def onnx_float():
            outputs = run_onnx_logits(path("onnx_float"), x) if tensor is not None \
                else run_model("onnxruntime", path("onnx_float"), x).outputs
            return validate.float_close(f"onnx_float vs tflite_float ({what})", outputs.reshape(own.shape), own)

        def onnx_int8():
            outputs = run_model("onnxruntime-exact", path("onnx_int8"), x).outputs  # the same on every CPU
            return validate.accuracy_drop("onnx_int8 vs float accuracy drop (points)",
                                          validate.accuracy(outputs, labels), validate.accuracy(own, labels),
                                          config.max_drop, len(labels))

        checks = validate.run_checks(manifest, (validate.Check(("onnx_float",), onnx_float),
                                                validate.Check(("onnx_int8",), onnx_int8)))
        return checks, confusion_record(own, labels, self.source.labels, "litert", "tflite_float")
