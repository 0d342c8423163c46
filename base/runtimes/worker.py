"""Child-process side of runtimes/sandbox.py: runs one interpreter job and writes results to files.

Invoked as `python -m mnd.base.runtimes.worker JOB_DIR`. A TFLITE_CHECK abort here kills only this process.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np


def _litert(job: dict, model: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if job["runtime"] == "litert-ref" else OpResolverType.AUTO
    interpreter = Interpreter(model_content=model, num_threads=job.get("threads", 1),
                              experimental_op_resolver_type=resolver,
                              experimental_preserve_all_tensors=job.get("tensor") is not None)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = job["tensor"] if job.get("tensor") is not None else interpreter.get_output_details()[0]["index"]

    def infer(sample):
        interpreter.set_tensor(input_index, sample)
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()
    return infer


def _tflm(job: dict, model: bytes):
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model, arena_size=job.get("arena_size"))

    def infer(sample):
        interpreter.set_input(sample, 0)
        interpreter.invoke()
        return interpreter.get_output(0).copy()
    return infer


def _onnxruntime(job: dict, model: bytes):
    """Runtime "onnxruntime": as users run it (graph optimizations on: QDQ fused into int8 kernels, whose results can
    depend on the CPU); "onnxruntime-exact": optimizations off, the QDQ arithmetic as written, the same on every CPU."""
    import onnxruntime

    levels = onnxruntime.GraphOptimizationLevel
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = levels.ORT_DISABLE_ALL if job["runtime"] == "onnxruntime-exact" \
        else levels.ORT_ENABLE_ALL
    options.intra_op_num_threads = job.get("threads", 1)
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    output_name = job.get("tensor") or session.get_outputs()[0].name

    def infer(sample):
        return session.run([output_name], {input_name: sample})[0]
    return infer


VIABILITY_ARENA = 256 << 20


def _probe_arena(model: bytes, sample: np.ndarray, size: int) -> tuple:
    """(runs, last native log line) for TFLM with `size` arena bytes, in a forked child: TFLM sometimes
    aborts (a failed Prepare followed by a TFLITE_CHECK) instead of returning an error."""
    import os
    import tempfile

    from tflite_micro.python.tflite_micro import runtime

    with tempfile.TemporaryFile() as log:
        pid = os.fork()
        if pid == 0:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                interpreter = runtime.Interpreter.from_bytes(model, arena_size=size)
                interpreter.set_input(sample, 0)
                interpreter.invoke()
                os._exit(0)
            except BaseException as error:
                os.write(2, f"{type(error).__name__}: {error}\n".encode())
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        log.seek(0)
        lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    return os.waitstatus_to_exitcode(status) == 0, "; ".join(lines[-2:])


def _tflm_arena(model: bytes, sample: np.ndarray) -> int:
    """Smallest arena (bytes, 16-byte steps) with which TFLM allocates and runs, by doubling then bisection."""
    runs, message = _probe_arena(model, sample, VIABILITY_ARENA)
    if not runs:
        raise RuntimeError(f"TFLM cannot run this model even with a {VIABILITY_ARENA >> 20} MiB arena "
                           f"({message or 'it aborted without a log line'}); this usually means a degenerate "
                           "quantization: an untrained model, or calibration data that does not match the "
                           "model's preprocessing")
    high = 16 * 1024
    while high < VIABILITY_ARENA and not _probe_arena(model, sample, high)[0]:
        high *= 2
    low = high // 2 if high > 16 * 1024 else 0  # largest size known not to fit
    while high - low > 16:
        middle = (low + high) // 2 // 16 * 16
        if middle <= low:
            break
        if _probe_arena(model, sample, middle)[0]:
            high = middle
        else:
            low = middle
    return high


RUNTIMES = {"litert": _litert, "litert-ref": _litert, "tflm": _tflm, "onnxruntime": _onnxruntime,
            "onnxruntime-exact": _onnxruntime}


def main(job_dir: Path) -> int:
    job = json.loads((job_dir / "job.json").read_text())
    model = Path(job["model"]).read_bytes()
    inputs = np.load(job_dir / "inputs.npy")
    progress = job_dir / "progress"
    if job["runtime"] == "tflm-arena":
        (job_dir / "result.json").write_text(json.dumps({"arena_bytes": _tflm_arena(model, inputs[:1])}))
        return 0
    infer = RUNTIMES[job["runtime"]](job, model)
    outputs = []
    for index, sample in enumerate(inputs):
        progress.write_text(str(index))
        outputs.append(infer(sample[None]))
    latencies = []
    for run in range(job.get("warmup", 0) + job.get("runs", 0)):
        started = time.perf_counter()
        infer(inputs[run % len(inputs)][None])
        if run >= job.get("warmup", 0):
            latencies.append((time.perf_counter() - started) * 1000.0)
    np.save(job_dir / "outputs.npy", np.concatenate(outputs) if outputs else np.zeros((0,)))
    (job_dir / "result.json").write_text(json.dumps({"latencies_ms": latencies}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
