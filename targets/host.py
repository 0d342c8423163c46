"""The host target: every runnable artifact on this machine's CPU, accuracy and latency per runtime."""
from pathlib import Path

import numpy as np

from pipeline.manifest import Measurement
from pipeline.model_inputs import inputs_for
from pipeline.sandbox import run_model
from pipeline.validate import accuracy
from targets.base import MeasureSettings, Target, register_target

RUNS = (("litert", "tflite_float"), ("litert", "tflite_int8"), ("litert-ref", "tflite_float"),
        ("litert-ref", "tflite_int8"), ("onnxruntime", "onnx_float"), ("onnxruntime", "onnx_int8"))


def latency_summary(latencies_ms: list) -> dict | None:
    if not latencies_ms:
        return None
    return {"p50": round(float(np.percentile(latencies_ms, 50)), 4),
            "p90": round(float(np.percentile(latencies_ms, 90)), 4)}


@register_target
class HostTarget(Target):
    name = "host"
    description = "this machine's CPU: LiteRT (XNNPACK and reference kernels), ONNX Runtime"
    requires = ("tflite_float", "tflite_int8", "onnx_float", "onnx_int8")
    options = {"threads": "inference threads (default 1)"}

    def check(self):
        return None  # the runtimes are pinned Python dependencies of mnd itself

    def measure(self, run_dir: Path, manifest, evaluation, settings: MeasureSettings):
        measurements = []
        for runtime, kind in RUNS:
            artifact = manifest.artifact(kind)
            if artifact is None:
                continue
            path = run_dir / artifact.path
            result = run_model(runtime, path, inputs_for(path, evaluation.float_inputs), threads=settings.threads,
                               warmup=settings.warmup, runs=settings.runs)
            measurements.append(Measurement(
                target=self.name, runtime=runtime, artifact=kind,
                accuracy=accuracy(result.outputs, evaluation.labels), n=len(evaluation.labels),
                latency_ms=latency_summary(result.latencies_ms), runs=len(result.latencies_ms),
                threads=settings.threads, warmup=settings.warmup, emulated=False))
        return tuple(measurements)
