"""The board runner (targets/linux_arm64/runner.py) run here, as mnd runs it on a board: copied into a work
directory with a job, started as `python runner.py job.json` with that directory as cwd. The host's x86 LiteRT and
onnxruntime stand in for the board's; a venv without onnxruntime (or without anything) stands in for a board that
lacks a package."""
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from mnd.base.runtimes.sandbox import run_model
from mnd.base.tflite.repair import _schema, pack_model, repair_tflite
from mnd.pipeline.formats.onnx import write_onnx_from_tflite
from mnd.targets.linux_arm64 import runner
from tests.unit.tiny_tflite import CHANNELS, CLASSES, SIDE, tiny_tflite

SAMPLES, WARMUP, RUNS = 5, 1, 3
HEADER = {"runner", "python", "machine", "packages", "litert_module"}
PACKAGES = {"numpy", "ai_edge_litert", "tflite_runtime", "onnxruntime"}
ITEM = {"id", "ok", "error", "outputs", "latencies_ms", "seconds"}


def item(item_id: str, runtime: str, model: str, threads: int = 1, accuracy_pass: bool = True) -> dict:
    return {"id": item_id, "runtime": runtime, "model": model, "inputs": "inputs.npy", "threads": threads,
            "outputs": f"outputs_{item_id}.npy", "accuracy_pass": accuracy_pass}


def softmax_abort_model() -> bytes:
    """The tiny model with a logits scale so small that the reference int8 SOFTMAX fails a TFLITE_CHECK."""
    model = _schema().ModelT.InitFromPackedBuf(repair_tflite(tiny_tflite("int8"), "tiny")[0], 0)
    logits = next(tensor for tensor in model.subgraphs[0].tensors if tensor.name == b"logits")
    logits.quantization.scale = [1e-9]
    return pack_model(model)


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    """A work directory as mnd sends it: the runner, models, inputs in the model's dtype."""
    work = tmp_path_factory.mktemp("board")
    shutil.copy(runner.__file__, work / "runner.py")
    (work / "tiny.tflite").write_bytes(repair_tflite(tiny_tflite("int8"), "tiny")[0])
    write_onnx_from_tflite(work / "tiny.tflite", work / "tiny.onnx")
    (work / "abort.tflite").write_bytes(softmax_abort_model())
    (work / "garbage.tflite").write_bytes(bytes(range(256)) * 4)
    np.save(work / "inputs.npy", np.random.default_rng(0).integers(-128, 128, (SAMPLES, SIDE, SIDE, CHANNELS),
                                                                   dtype=np.int8))
    return work


def run_job(work: Path, items: list, python: str = sys.executable, timeout_s: float = 60) -> tuple:
    """(exit status, result.json) of one job in `work`."""
    (work / "result.json").unlink(missing_ok=True)
    (work / "job.json").write_text(json.dumps({"warmup": WARMUP, "runs": RUNS, "item_timeout_s": timeout_s,
                                               "items": items}))
    process = subprocess.run([python, "runner.py", "job.json"], cwd=work, capture_output=True, text=True,
                             timeout=120)
    return process.returncode, json.loads((work / "result.json").read_text())


@pytest.fixture(scope="module")
def full_job(board) -> tuple:
    items = [item("litert-t2", "litert", "tiny.tflite", threads=2), item("litert-ref", "litert-ref", "tiny.tflite"),
             item("onnxruntime-t1", "onnxruntime", "tiny.onnx"),
             item("litert-t4", "litert", "tiny.tflite", threads=4, accuracy_pass=False),
             item("softmax-abort", "litert-ref", "abort.tflite"), item("garbage", "litert", "garbage.tflite")]
    status, result = run_job(board, items)
    return status, result, {entry["id"]: entry for entry in result["items"]}


def board_venv(tmp_path: Path, keep) -> str:
    """A venv of this interpreter whose site-packages links those of ours for which keep(name) is true."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for entry in ours.iterdir():
        if keep(entry.name):
            (theirs / entry.name).symlink_to(entry)
    return str(venv / "bin" / "python")


def test_result_json_follows_the_contract(full_job):
    status, result, _ = full_job
    assert status == 0
    assert set(result) == HEADER | {"fatal", "items"}
    assert result["runner"] == 1 and result["fatal"] is None
    assert result["python"] == platform.python_version() and result["machine"] == platform.machine()
    assert set(result["packages"]) == PACKAGES
    assert result["packages"]["numpy"] == np.__version__ and result["packages"]["tflite_runtime"] is None
    assert isinstance(result["packages"]["onnxruntime"], str) and isinstance(result["packages"]["ai_edge_litert"], str)
    assert result["litert_module"] == "ai_edge_litert"
    for entry in result["items"]:
        assert set(entry) == ITEM
        assert isinstance(entry["ok"], bool) and isinstance(entry["seconds"], float) and entry["seconds"] > 0
        assert (entry["error"] is None) == entry["ok"]
        assert isinstance(entry["error"], (str, type(None))) and "\n" not in (entry["error"] or "")
        assert all(isinstance(latency, float) for latency in entry["latencies_ms"])


def test_outputs_match_the_host_sandbox_bit_exactly(board, full_job):
    _, _, items = full_job
    inputs = np.load(board / "inputs.npy")
    for item_id, runtime, model in [("litert-ref", "litert-ref", "tiny.tflite"), ("litert-t2", "litert", "tiny.tflite"),
                                    ("onnxruntime-t1", "onnxruntime", "tiny.onnx")]:
        assert items[item_id]["ok"] and items[item_id]["outputs"] == f"outputs_{item_id}.npy"
        on_board = np.load(board / items[item_id]["outputs"])
        expected = run_model(runtime, board / model, inputs).outputs
        assert on_board.shape == (SAMPLES, CLASSES) and on_board.dtype == np.int8
        assert np.array_equal(on_board, expected), item_id


def test_latency_runs_and_a_latency_only_item(board, full_job):
    _, _, items = full_job
    for item_id in ("litert-t2", "litert-ref", "onnxruntime-t1", "litert-t4"):
        assert items[item_id]["ok"] and len(items[item_id]["latencies_ms"]) == RUNS
        assert all(latency > 0 for latency in items[item_id]["latencies_ms"])
    assert items["litert-t4"]["outputs"] is None and not (board / "outputs_litert-t4.npy").exists()


def test_an_abort_or_a_garbage_model_fails_only_its_item(board, full_job):
    _, _, items = full_job
    assert items["softmax-abort"]["error"] == "aborted by SIGABRT while loading abort.tflite with litert-ref"
    assert items["garbage"]["error"].startswith("ValueError while loading garbage.tflite with litert:")
    for failed in ("softmax-abort", "garbage"):
        assert not items[failed]["ok"] and items[failed]["outputs"] is None and items[failed]["latencies_ms"] == []
    assert list(items) == ["litert-t2", "litert-ref", "onnxruntime-t1", "litert-t4", "softmax-abort", "garbage"]
    assert not list(board.glob(".runner-*")) and not list(board.glob("*.partial"))


def test_an_item_past_its_timeout_is_reported_and_the_job_completes(board):
    status, result = run_job(board, [item("slow", "litert", "tiny.tflite")], timeout_s=0.01)
    assert status == 0 and result["fatal"] is None
    assert result["items"][0]["error"].startswith("did not finish within 0.01 s (it was ")


def test_missing_onnxruntime_names_the_install_and_litert_still_runs(board, tmp_path):
    python = board_venv(tmp_path, keep=lambda name: not name.lower().startswith("onnxruntime"))
    status, result = run_job(board, [item("onnxruntime-t1", "onnxruntime", "tiny.onnx"),
                                     item("litert-ref", "litert-ref", "tiny.tflite")], python=python)
    assert status == 0 and result["packages"]["onnxruntime"] is None
    onnx_item, litert_item = result["items"]
    assert not onnx_item["ok"] and onnx_item["error"].startswith(
        "onnxruntime is not installed on the board: python3 -m pip install onnxruntime")
    assert litert_item["ok"] and len(litert_item["latencies_ms"]) == RUNS


def test_a_board_without_numpy_gets_a_fatal_line_and_no_items(board, tmp_path):
    python = board_venv(tmp_path, keep=lambda name: False)
    status, result = run_job(board, [item("litert-ref", "litert-ref", "tiny.tflite")], python=python)
    assert status == 0 and result["items"] == []
    assert result["fatal"].startswith("numpy is not installed on the board: python3 -m venv ~/mnd-venv")
    assert set(result["packages"].values()) == {None} and result["litert_module"] is None


def test_probe_prints_the_header_as_one_json_line(board):
    process = subprocess.run([sys.executable, "runner.py", "--probe"], cwd=board, capture_output=True, text=True,
                             timeout=60)
    assert process.returncode == 0 and len(process.stdout.splitlines()) == 1
    probe = json.loads(process.stdout)
    assert set(probe) == HEADER and set(probe["packages"]) == PACKAGES
    assert probe["python"] == platform.python_version() and probe["litert_module"] == "ai_edge_litert"


def python39():
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9")))
    candidates = [shutil.which("python3.9"), *pyenv]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def test_the_runner_runs_on_python_3_9(board, tmp_path):
    python = python39()
    if python is None:
        pytest.skip("no working python3.9 here")
    probe = subprocess.run([python, "runner.py", "--probe"], cwd=board, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0 and json.loads(probe.stdout)["python"].startswith("3.9.")
    status, result = run_job(board, [item("litert-ref", "litert-ref", "tiny.tflite")], python=python)
    assert status == 0 and set(result) == HEADER | {"fatal", "items"}
