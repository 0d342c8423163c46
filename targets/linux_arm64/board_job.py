"""What one board measurement runs: a row per runtime, artifact and thread count, the files the board needs (the
runner's job.json, models, inputs as .npy, the mnd-c executable and its raw int8 inputs) and the time limits."""
import json
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.tempdirs import temporary_directory
from mnd.targets.engine_remote import ENGINE

RUNS = (("litert", "tflite_float"), ("litert", "tflite_int8"), ("litert", "tflite_uint8"),
        ("litert-ref", "tflite_float"), ("litert-ref", "tflite_int8"), ("litert-ref", "tflite_uint8"),
        ("onnxruntime", "onnx_float"), ("onnxruntime", "onnx_int8"), ("onnxruntime", "onnx_uint8"))
MULTI_THREADED = ("litert", "onnxruntime")
SECONDS_PER_INFERENCE = 10.0  # generous: reference kernels under emulation; a hang still ends
BASE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Row:
    id: str
    runtime: str
    kind: str
    threads: int


@dataclass
class BoardJob:
    rows: list
    runner_items: list
    engine_item: dict | None
    warmup: int
    runs: int
    threads: tuple
    files: dict = field(default_factory=dict)  # name on the board -> local source Path or bytes
    samples: int = 0
    width: int = 0  # values per sample in every output: the model's classes

    @property
    def runner_timeout_s(self) -> float:
        inferences = sum(self._per_item() for _ in self.runner_items)
        return BASE_TIMEOUT_S + SECONDS_PER_INFERENCE * inferences

    @property
    def engine_timeout_s(self) -> float:
        return BASE_TIMEOUT_S + SECONDS_PER_INFERENCE * self._per_item()

    def _per_item(self) -> int:
        return self.samples + self.warmup + self.runs

    def job_document(self) -> dict:
        return {"warmup": self.warmup, "runs": self.runs, "item_timeout_s": self.engine_timeout_s,
                "items": self.runner_items}

    @contextmanager
    def staged(self):
        """A local folder holding every file the board needs (and, later, what comes back from it)."""
        with temporary_directory("mnd-board-") as tmp:
            local = Path(tmp)
            for name, source in self.files.items():
                if isinstance(source, bytes):
                    (local / name).write_bytes(source)
                else:
                    shutil.copy(source, local / name)
            (local / "job.json").write_text(json.dumps(self.job_document(), indent=1))
            yield local


def _model_name(kind: str, path: Path) -> str:
    return f"model_{kind}{path.suffix}"


def plan_job(run_dir: Path, manifest, evaluation, settings, threads: tuple, engine: Path | None) -> BoardJob:
    """Rows for every artifact the board can run; the reference kernels and mnd-c once, single-threaded."""
    rows, items, files = [], [], {}
    quant = manifest.model.get("input_quantization")
    for runtime, kind in RUNS:
        artifact = manifest.artifact(kind)
        if artifact is None:
            continue
        path = run_dir / artifact.path
        model, inputs = _model_name(kind, path), f"inputs_{kind}.npy"
        if model not in files:
            files[model] = path
            buffer = tempfile.SpooledTemporaryFile()
            np.save(buffer, np.ascontiguousarray(artifact_inputs(path, evaluation, quant)))
            buffer.seek(0)
            files[inputs] = buffer.read()
        for count in (threads if runtime in MULTI_THREADED else (1,)):
            row = Row(f"{runtime}-{kind}-t{count}", runtime, kind, count)
            rows.append(row)
            items.append({"id": row.id, "runtime": runtime, "model": model, "inputs": inputs, "threads": count,
                          "outputs": f"outputs_{row.id}.npy", "accuracy_pass": True})
    engine_item = None
    if engine is not None:
        int8 = run_dir / manifest.artifact("tflite_int8").path
        files[ENGINE] = engine
        files["inputs_mnd-c.bin"] = np.ascontiguousarray(artifact_inputs(int8, evaluation)).tobytes()
        engine_item = {"inputs": "inputs_mnd-c.bin", "outputs": "outputs_mnd-c.bin"}
        rows.append(Row(ENGINE, ENGINE, "tflite_int8", 1))
    return BoardJob(rows, items, engine_item, settings.warmup, settings.runs, tuple(threads), files,
                    samples=len(evaluation.labels), width=manifest.model["classes"])
