"""Run interpreters in a child process: a TFLITE_CHECK abort (say, in the reference int8 SOFTMAX)
kills the child and becomes a clear error, never a dead CLI."""
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnd.base.errors import MndError
from mnd.base.progress import phase
from mnd.base.tempdirs import temporary_directory

RUNTIME_LABELS = {"litert": "LiteRT (default kernels, XNNPACK)", "litert-ref": "LiteRT reference kernels",
                  "tflm": "TFLite-Micro (host)", "onnxruntime": "ONNX Runtime",
                  "onnxruntime-exact": "ONNX Runtime, graph optimizations off (exact QDQ arithmetic)",
                  "tflm-arena": "TFLite-Micro arena search"}


class RuntimeCrash(MndError):
    """An interpreter failed or aborted while running a model."""


@dataclass(frozen=True)
class RunResult:
    outputs: np.ndarray
    latencies_ms: list


def run_model(runtime: str, model_path: Path, inputs: np.ndarray, *, threads: int = 1, warmup: int = 0,
              runs: int = 0, tensor=None, arena_size=None, timeout: float = 1800, launcher: tuple = (),
              shown: str | None = None) -> RunResult:
    """Run every sample of `inputs` (already in the model's input dtype) through `runtime` in a child.

    `shown`: what the progress line calls the model (default its file name): the artifact a temporary copy stands
    for, since the user never sees the copy.
    `launcher`: a command prefix for the child, such as ("qemu-x86_64-static", "-cpu", "Haswell") to run the
    interpreter on an emulated CPU."""
    result, outputs = _run_job({"runtime": runtime, "model": str(Path(model_path).resolve()), "threads": threads,
                                "warmup": warmup, "runs": runs, "tensor": tensor, "arena_size": arena_size},
                               inputs, timeout, launcher, shown)
    return RunResult(outputs, result["latencies_ms"])


def tflm_arena_bytes(model_path: Path, sample: np.ndarray, timeout: float = 600) -> int:
    """Smallest tensor arena with which the host TFLM interpreter allocates and runs the model."""
    result, _ = _run_job({"runtime": "tflm-arena", "model": str(Path(model_path).resolve())}, sample[None], timeout)
    return int(result["arena_bytes"])


def _run_job(job: dict, inputs: np.ndarray, timeout: float, launcher: tuple = (), shown: str | None = None):
    label = f"{RUNTIME_LABELS[job['runtime']]} on {shown or Path(job['model']).name}"
    with temporary_directory("mnd-sandbox-") as job_dir:
        (job_dir / "job.json").write_text(json.dumps(job))
        np.save(job_dir / "inputs.npy", np.ascontiguousarray(inputs))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        try:
            with phase(f"{label}: {len(inputs)} sample(s)" + (f", {job['runs']} timed runs" if job.get("runs") else "")):
                process = subprocess.run([*launcher, sys.executable, "-m", "mnd.base.runtimes.worker",
                                          str(job_dir)], capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise RuntimeCrash(f"{label} did not finish within {timeout:.0f} s") from None
        if process.returncode != 0:
            raise RuntimeCrash(_describe_failure(label, process, job_dir))
        result = json.loads((job_dir / "result.json").read_text())
        outputs = np.load(job_dir / "outputs.npy", allow_pickle=False) if (job_dir / "outputs.npy").exists() else None
        return result, outputs


def _describe_failure(label: str, process, job_dir: Path) -> str:
    progress = job_dir / "progress"
    where = f" on sample {progress.read_text()}" if progress.exists() else " while loading the model"
    detail = [line.strip() for line in process.stderr.splitlines() if line.strip()]
    reason = f": {detail[-1][:300]}" if detail else ""
    if process.returncode == -signal.SIGABRT:
        message = f"{label} aborted{where} (a TFLITE_CHECK inside the interpreter failed{reason}); mnd ran it " \
                  "in a child process, so nothing else was affected"
        if not detail or "SOFTMAX" in reason:
            message += (". The int8 reference SOFTMAX does this on near-uniform outputs over many classes. Fix: "
                        "calibrate and evaluate with data in the model's own preprocessing (near-uniform outputs "
                        "usually mean a mismatch or an untrained model)")
        return message
    how = f"was killed by {signal.Signals(-process.returncode).name}" if process.returncode < 0 \
        else f"failed (exit {process.returncode})"
    return f"{label} {how}{where}{reason}; mnd ran it in a child process, so nothing else was affected"
