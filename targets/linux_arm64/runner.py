"""The runner mnd copies to a Raspberry Pi (or any arm64 Linux board) and runs there, in the work directory.

ONE self-contained file: the standard library only at module level (numpy, ai_edge_litert or tflite_runtime, and
onnxruntime are imported where they are used), Python 3.9+ (Raspberry Pi OS Bullseye).

    python3 runner.py job.json      run the job, write result.json, exit 0 whenever result.json was written
    python3 runner.py --probe       print the header fields below as one JSON line on stdout, exit 0

job.json (file names relative to the work directory):
    {"warmup": W, "runs": R, "item_timeout_s": T,
     "items": [{"id": "litert-t2", "runtime": "litert" | "litert-ref" | "onnxruntime", "model": "vww_int8.tflite",
                "inputs": "inputs_tflite_int8.npy", "threads": 2, "outputs": "outputs_litert-t2.npy",
                "accuracy_pass": true}]}
    runtime "litert": LiteRT's default kernels (XNNPACK; OpResolverType.AUTO) with `threads`;
            "litert-ref": the reference kernels (OpResolverType.BUILTIN_REF), always 1 thread;
            "onnxruntime": InferenceSession, graph optimizations on (ORT_ENABLE_ALL), intra-op `threads`,
            inter-op 1, CPUExecutionProvider.
    The inputs are already in the model's input dtype, one sample per row. With accuracy_pass true every sample runs
    once (batch of 1) and the outputs, concatenated, are saved with numpy.save to `outputs`; then W untimed and
    R timed runs (time.perf_counter, ms) cycle through the samples. With accuracy_pass false only the latency runs
    happen.

result.json:
    {"runner": 1, "python": platform.python_version(), "machine": platform.machine(),
     "packages": {"numpy": version | null, "ai_edge_litert": ..., "tflite_runtime": ..., "onnxruntime": ...},
     "litert_module": "ai_edge_litert" | "tflite_runtime" | null, "fatal": null | "one line",
     "items": [{"id": ..., "ok": bool, "error": null | "one line", "outputs": file name | null,
                "latencies_ms": [...], "seconds": float}]}
    "fatal" (with no items) when nothing could run: numpy missing, or job.json unreadable.

Each item runs in a child process (`runner.py --item job.json INDEX`) that writes its own result file: LiteRT's
reference int8 SOFTMAX can abort the process, so an abort, crash or timeout becomes that item's error and the
other items still run.
"""
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import time

RUNNER_VERSION = 1
RESULT = "result.json"
PACKAGES = ("numpy", "ai_edge_litert", "tflite_runtime", "onnxruntime")
LITERT_MODULES = ("ai_edge_litert", "tflite_runtime")
RUNTIMES = ("litert", "litert-ref", "onnxruntime")
DEFAULT_ITEM_TIMEOUT_S = 1800
PIP = "(inside the venv mnd uses)"
NUMPY_MISSING = ("numpy is not installed on the board: python3 -m venv ~/mnd-venv && "
                 "~/mnd-venv/bin/pip install numpy ai-edge-litert onnxruntime")
LITERT_MISSING = f"neither ai_edge_litert nor tflite_runtime is installed: python3 -m pip install ai-edge-litert {PIP}"
ONNXRUNTIME_MISSING = f"onnxruntime is not installed on the board: python3 -m pip install onnxruntime {PIP}"


class RunnerError(Exception):
    """A failure whose message is already the one line to report."""


# ----------------------------------------------------------------------------- header (--probe)
def package_version(name: str):
    for distribution in (name, name.replace("_", "-")):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def litert_module():
    """The LiteRT Python module this board has, preferring ai_edge_litert; None when neither is installed."""
    return next((module for module in LITERT_MODULES if installed(module)), None)


def header() -> dict:
    return {"runner": RUNNER_VERSION, "python": platform.python_version(), "machine": platform.machine(),
            "packages": {name: package_version(name) for name in PACKAGES}, "litert_module": litert_module()}


# ----------------------------------------------------------------------------- the job (parent)
def run_job(job_path: str) -> int:
    result = dict(header(), fatal=None, items=[])
    try:
        job = read_job(job_path)
        if not installed("numpy"):
            raise RunnerError(NUMPY_MISSING)
        for index, item in enumerate(job["items"]):
            outcome = run_in_child(job_path, job, index)
            result["items"].append(outcome)
            print(f"{item['id']}: {'ok' if outcome['ok'] else outcome['error']} ({outcome['seconds']:.1f} s)",
                  flush=True)
    except RunnerError as error:
        result["fatal"], result["items"] = one_line(error), []
    except Exception as error:  # a runner bug still ends up in result.json
        result["fatal"], result["items"] = f"runner error: {type(error).__name__}: {one_line(error)}", []
    try:
        write_json(RESULT, result)
    except OSError as error:
        print(f"runner: cannot write {RESULT}: {error}", file=sys.stderr)
        return 1
    return 0


def read_job(job_path: str) -> dict:
    try:
        with open(job_path) as file:
            job = json.load(file)
    except (OSError, ValueError) as error:
        raise RunnerError(f"cannot read {job_path}: {error}") from None
    items = job.get("items") if isinstance(job, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) and "id" in item for item in items):
        raise RunnerError(f"{job_path} has no list of items, each with an id")
    return job


def child_files(index: int) -> tuple:
    """(result, progress) files of item `index`: the child's outcome, and what it was doing last."""
    return f".runner-item-{index}.json", f".runner-item-{index}.progress"


def run_in_child(job_path: str, job: dict, index: int) -> dict:
    result_file, progress_file = child_files(index)
    for leftover in child_files(index):
        remove(leftover)
    timeout = job.get("item_timeout_s") or DEFAULT_ITEM_TIMEOUT_S
    command = [sys.executable, os.path.abspath(__file__), "--item", job_path, str(index)]
    started = time.perf_counter()
    try:
        process = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                 env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        if os.path.exists(result_file):
            with open(result_file) as file:
                outcome = json.load(file)
        else:
            outcome = failed(describe_exit(process, read_text(progress_file)))
    except subprocess.TimeoutExpired:
        outcome = failed(f"did not finish within {timeout:g} s (it was {read_text(progress_file)})")
    seconds = time.perf_counter() - started
    for leftover in child_files(index):
        remove(leftover)
    return {"id": job["items"][index]["id"], "ok": outcome["ok"], "error": outcome["error"],
            "outputs": outcome["outputs"], "latencies_ms": outcome["latencies_ms"], "seconds": round(seconds, 3)}


def describe_exit(process, stage: str) -> str:
    """One line for a child that ended without writing its result: a signal, or an exit before it could."""
    detail = [line.strip() for line in (process.stderr or "").splitlines() if line.strip()]
    reason = f" ({detail[-1][:300]})" if detail else ""
    if process.returncode < 0:
        name = signal_name(-process.returncode)
        how = f"aborted by {name}" if name == "SIGABRT" else f"killed by {name}"
        if name == "SIGKILL":
            reason += " (the board may have run out of memory)"
        return f"{how} while {stage}{reason}"
    return f"exited with status {process.returncode} while {stage}{reason}"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def failed(error: str) -> dict:
    return {"ok": False, "error": error, "outputs": None, "latencies_ms": []}


# ----------------------------------------------------------------------------- one item (child)
def run_item(job_path: str, index: int) -> int:
    result_file, progress_file = child_files(index)
    job = read_job(job_path)
    item = job["items"][index]
    try:
        outputs, latencies = measure(job, item, Progress(progress_file))
        outcome = {"ok": True, "error": None, "outputs": outputs, "latencies_ms": latencies}
    except RunnerError as error:
        outcome = failed(one_line(error))
    except Exception as error:  # the interpreters raise many types; each becomes this item's error
        outcome = failed(f"{type(error).__name__} while {read_text(progress_file)}: {one_line(error)}")
    write_json(result_file, outcome)
    return 0


class Progress:
    """What the item is doing, in a file, so the parent can say where a crash or a timeout happened."""

    def __init__(self, path: str):
        self.path = path

    def __call__(self, stage: str):
        with open(self.path, "w") as file:
            file.write(stage)


def measure(job: dict, item: dict, progress: Progress) -> tuple:
    """(outputs file name or None, timed latencies in ms) of one item."""
    import numpy as np

    if item.get("runtime") not in RUNTIMES:
        raise RunnerError(f"unknown runtime {item.get('runtime')!r} (this runner knows {', '.join(RUNTIMES)})")
    progress(f"loading {item['model']} with {item['runtime']}")
    infer = (onnxruntime_session if item["runtime"] == "onnxruntime" else litert_interpreter)(item)
    progress(f"reading {item['inputs']}")
    inputs = np.load(item["inputs"])
    outputs = None
    if item.get("accuracy_pass"):
        results = []
        for index, sample in enumerate(inputs):
            progress(f"running sample {index} of {item['inputs']}")
            results.append(infer(sample[None]))
        with open(item["outputs"], "wb") as file:
            np.save(file, np.concatenate(results) if results else np.zeros((0,)))
        outputs = item["outputs"]
    warmup, runs = int(job.get("warmup", 0)), int(job.get("runs", 0))
    if warmup + runs and not len(inputs):
        raise RunnerError(f"{item['inputs']} has no samples for the latency runs")
    progress(f"running the latency runs ({warmup} warm-up, {runs} timed)")
    latencies = []
    for run in range(warmup + runs):
        sample = inputs[run % len(inputs)][None]
        started = time.perf_counter()
        infer(sample)
        if run >= warmup:
            latencies.append((time.perf_counter() - started) * 1000.0)
    return outputs, latencies


def litert_interpreter(item: dict):
    module_name = litert_module()
    if module_name is None:
        raise RunnerError(LITERT_MISSING)
    interpreter_module = importlib.import_module(f"{module_name}.interpreter")
    reference = item["runtime"] == "litert-ref"
    options = {"model_path": item["model"], "num_threads": 1 if reference else int(item.get("threads", 1))}
    resolvers = getattr(interpreter_module, "OpResolverType", None)
    no_reference_kernels = (f"{module_name} {package_version(module_name)} cannot select LiteRT's reference kernels "
                            f"(litert-ref): python3 -m pip install ai-edge-litert {PIP}")
    if resolvers is not None:
        options["experimental_op_resolver_type"] = resolvers.BUILTIN_REF if reference else resolvers.AUTO
    elif reference:
        raise RunnerError(no_reference_kernels)
    try:
        interpreter = interpreter_module.Interpreter(**options)
    except TypeError as error:
        if "experimental_op_resolver_type" not in str(error):
            raise
        if reference:
            raise RunnerError(no_reference_kernels) from None
        del options["experimental_op_resolver_type"]  # its default is AUTO
        interpreter = interpreter_module.Interpreter(**options)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def infer(sample):
        interpreter.set_tensor(input_index, sample)
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()
    return infer


def onnxruntime_session(item: dict):
    if not installed("onnxruntime"):
        raise RunnerError(ONNXRUNTIME_MISSING)
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(item.get("threads", 1))
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(item["model"], options, providers=["CPUExecutionProvider"])
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name

    def infer(sample):
        return session.run([output_name], {input_name: sample})[0]
    return infer


# ----------------------------------------------------------------------------- small helpers
def one_line(error) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines)[:500] or type(error).__name__


def read_text(path: str) -> str:
    try:
        with open(path) as file:
            return file.read().strip() or "starting"
    except OSError:
        return "starting"


def remove(path: str):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def write_json(path: str, value: dict):
    """Whole or not at all: a reader never sees half a file."""
    partial = f"{path}.partial"
    with open(partial, "w") as file:
        json.dump(value, file, indent=1)
    os.replace(partial, path)


def main(argv: list) -> int:
    if argv == ["--probe"]:
        print(json.dumps(header()))
        return 0
    if len(argv) == 3 and argv[0] == "--item":
        return run_item(argv[1], int(argv[2]))
    if len(argv) == 1 and not argv[0].startswith("-"):
        return run_job(argv[0])
    print("usage: python3 runner.py job.json | --probe", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
