"""The host target: every runnable artifact on this machine's CPU, accuracy and latency per runtime."""
import logging
from pathlib import Path

import numpy as np

from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.runtimes.sandbox import run_model
from mnd.base.tempdirs import temporary_directory
from mnd.pipeline.environment import cpu_facts
from mnd.pipeline.formats.c_array import parse_c_array
from mnd.pipeline.manifest import Measurement
from mnd.pipeline.validate import accuracy, top1
from mnd.targets.base import MeasureSettings, Target, TargetResult
from mnd.targets.latency import latency_summary
from mnd.targets.registry import register_target

log = logging.getLogger("mnd")
RUNS = (("litert", "tflite_float"), ("litert", "tflite_int8"), ("litert", "tflite_uint8"),
        ("litert-ref", "tflite_float"), ("litert-ref", "tflite_int8"), ("litert-ref", "tflite_uint8"),
        ("tflm", "tflm_c_source"),
        ("onnxruntime", "onnx_float"), ("onnxruntime", "onnx_int8"), ("onnxruntime", "onnx_uint8"))
EXACT = "onnxruntime-exact"  # graph optimizations off: the QDQ arithmetic itself, the same on every CPU
FUSED_KINDS = ("onnx_int8", "onnx_uint8")
X86 = ("x86_64", "amd64", "i386", "i686")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni")
MULTI_THREADED = ("litert", "onnxruntime")  # the reference kernels and TFLM run single-threaded: one row each


def fused_exact_note(differing: int, n: int, cpu: dict, quantization: dict) -> str | None:
    """Why ONNX Runtime's fused kernels disagree with the exact QDQ arithmetic of onnx_int8 (what validation gated)
    here, and what to do; None when they agree. `cpu`: environment.cpu_facts() of the machine that ran them."""
    if not differing:
        return None
    machine = cpu.get("machine", "").lower()
    fix = "deploy the tflite_int8 artifact"
    if machine not in X86:
        cause = (f"this CPU is not x86 ({machine or 'unknown'}) and its int8 kernels do not saturate, so the fused "
                 "kernels round differently from the exact graph")
    elif any(flag in cpu.get("isa_flags", ()) for flag in VNNI_FLAGS):
        cause = "this x86 CPU has VNNI and its int8 kernels do not saturate, so the fused kernels round differently"
    elif quantization.get("onnx_reduce_range"):
        cause = "this x86 CPU has no VNNI, but 7-bit weights cannot saturate, so the fused kernels round differently"
    else:
        cause = ("this x86 CPU has no VNNI (neither avx512_vnni nor avx_vnni in /proc/cpuinfo flags), so ONNX "
                 "Runtime's u8s8 kernels add pairs of products in 16-bit sums that saturate (vpmaddubsw)")
        if quantization.get("onnx_reduce_range") is False:  # mnd quantized it (not an imported int8 .tflite)
            fix = f"re-export with --onnx-reduce-range (7-bit weights, which cannot saturate) or {fix}"
    return (f"onnx_int8: ONNX Runtime as users run it (graph optimizations on, fused int8 kernels) disagrees with "
            f"the exact QDQ arithmetic that validation checked on {differing} of {n} top-1 predictions: {cause}. "
            f"Fix: {fix}")


def agreement_record(kind: str, fused: np.ndarray, exact: np.ndarray, labels: np.ndarray, cpu: dict,
                     quantization: dict) -> dict:
    """Measurement.agreement of the fused kernels with the exact QDQ arithmetic. Only onnx_int8 was validated on
    the exact path, so only it gets a note; onnx_uint8 was validated on the fused u8u8 kernels themselves."""
    differing = int(np.sum(top1(fused) != top1(exact)))
    note = fused_exact_note(differing, len(exact), cpu, quantization) if kind == "onnx_int8" else None
    return {"reference": EXACT, "n": len(exact), "top1_differing": differing,
            "reference_accuracy": accuracy(exact, labels), "note": note}


def exact_agreement(path: Path, inputs: np.ndarray, fused: np.ndarray, labels: np.ndarray, kind: str,
                    cpu: dict, quantization: dict) -> dict:
    """agreement_record for `fused` (ONNX Runtime's outputs on some CPU) and the exact QDQ arithmetic of `path`."""
    return agreement_record(kind, fused, run_model(EXACT, path, inputs).outputs, labels, cpu, quantization)


@register_target
class HostTarget(Target):
    name = "host"
    description = "this machine's CPU: LiteRT (XNNPACK and reference kernels), TFLite-Micro (host), ONNX Runtime"
    requires = ("tflite_float", "tflite_int8", "tflite_uint8", "onnx_float", "onnx_int8", "onnx_uint8",
                "tflm_c_source")
    options = {"threads": "comma list of thread counts, one row each for LiteRT and ONNX Runtime (default 1)"}

    def check(self):
        return None  # the runtimes are pinned Python dependencies of mnd itself

    def measure(self, run_dir: Path, manifest, evaluation, settings: MeasureSettings) -> TargetResult:
        measurements = []
        for runtime, kind in RUNS:
            if manifest.artifact(kind) is None:
                continue
            threads = settings.thread_counts(self.default_threads) if runtime in MULTI_THREADED else (1,)
            for count in threads:
                measurements.append(self._measure_one(run_dir, manifest, evaluation, settings, runtime, kind, count))
        return TargetResult(tuple(measurements))

    def _measure_one(self, run_dir: Path, manifest, evaluation, settings: MeasureSettings, runtime: str, kind: str,
                     threads: int) -> Measurement:
        artifact = manifest.artifact(kind)
        with temporary_directory("mnd-host-") as tmp:
            path = run_dir / artifact.path
            arena = None
            if kind == "tflm_c_source":  # TFLM runs the bytes of the generated C array, as firmware would
                path, arena = Path(tmp) / "from_c_array.tflite", manifest.model["tflm_arena_bytes"]
                path.write_bytes(parse_c_array(run_dir / artifact.path))
                inputs = artifact_inputs(run_dir / manifest.artifact("tflite_int8").path, evaluation)
            else:
                inputs = artifact_inputs(path, evaluation, manifest.model.get("input_quantization"))
            result = run_model(runtime, path, inputs, threads=threads, warmup=settings.warmup, runs=settings.runs,
                               arena_size=arena, shown=artifact.path)
        agreement = None
        if kind in FUSED_KINDS:
            agreement = exact_agreement(path, inputs, result.outputs, evaluation.labels, kind, cpu_facts(),
                                        manifest.quantization or {})
            if agreement["note"]:
                log.warning("warning: %s", agreement["note"])
        return Measurement(
            target=self.name, runtime=runtime, artifact=kind, accuracy=accuracy(result.outputs, evaluation.labels),
            n=len(evaluation.labels), latency_ms=latency_summary(result.latencies_ms), runs=len(result.latencies_ms),
            threads=threads, warmup=settings.warmup, emulated=False, agreement=agreement)
