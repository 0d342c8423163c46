"""The host target: every runnable artifact on this machine's CPU, accuracy and latency per runtime."""
import tempfile
from pathlib import Path

import numpy as np

from mnd.pipeline.formats.c_array import parse_c_array
from mnd.pipeline.manifest import Measurement
from mnd.pipeline.model_inputs import artifact_inputs
from mnd.pipeline.sandbox import run_model
from mnd.pipeline.validate import accuracy
from mnd.targets.base import MeasureSettings, Target, register_target

RUNS = (("litert", "tflite_float"), ("litert", "tflite_int8"), ("litert", "tflite_uint8"),
        ("litert-ref", "tflite_float"), ("litert-ref", "tflite_int8"), ("litert-ref", "tflite_uint8"),
        ("tflm", "tflm_c_source"),
        ("onnxruntime", "onnx_float"), ("onnxruntime", "onnx_int8"), ("onnxruntime", "onnx_uint8"))


def latency_summary(latencies_ms: list) -> dict | None:
    if not latencies_ms:
        return None
    return {"p50": round(float(np.percentile(latencies_ms, 50)), 4),
            "p90": round(float(np.percentile(latencies_ms, 90)), 4)}


@register_target
class HostTarget(Target):
    name = "host"
    description = "this machine's CPU: LiteRT (XNNPACK and reference kernels), TFLite-Micro (host), ONNX Runtime"
    requires = ("tflite_float", "tflite_int8", "tflite_uint8", "onnx_float", "onnx_int8", "onnx_uint8",
                "tflm_c_source")
    options = {"threads": "inference threads (default 1)"}

    def check(self):
        return None  # the runtimes are pinned Python dependencies of mnd itself

    def measure(self, run_dir: Path, manifest, evaluation, settings: MeasureSettings):
        measurements = []
        quant = manifest.model.get("input_quantization")
        for runtime, kind in RUNS:
            artifact = manifest.artifact(kind)
            if artifact is None:
                continue
            with tempfile.TemporaryDirectory(prefix="mnd-host-") as tmp:
                path = run_dir / artifact.path
                arena = None
                if kind == "tflm_c_source":  # TFLM runs the bytes of the generated C array, as firmware would
                    path, arena = Path(tmp) / "from_c_array.tflite", manifest.model["tflm_arena_bytes"]
                    path.write_bytes(parse_c_array(run_dir / artifact.path))
                    inputs = artifact_inputs(run_dir / manifest.artifact("tflite_int8").path, evaluation)
                else:
                    inputs = artifact_inputs(path, evaluation, quant)
                result = run_model(runtime, path, inputs, threads=settings.threads, warmup=settings.warmup,
                                   runs=settings.runs, arena_size=arena)
            measurements.append(Measurement(
                target=self.name, runtime=runtime, artifact=kind,
                accuracy=accuracy(result.outputs, evaluation.labels), n=len(evaluation.labels),
                latency_ms=latency_summary(result.latencies_ms), runs=len(result.latencies_ms),
                threads=settings.threads, warmup=settings.warmup, emulated=False))
        return tuple(measurements)
