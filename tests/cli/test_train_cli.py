"""`mnd train` through the installed console script."""
import json
import signal
import subprocess
import time

import pytest
from PIL import Image

from tests.conftest import MND


def error_lines(result):
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]


@pytest.mark.parametrize("args, message", [
    (["--model", "mobilenet_v1_25_32", "--dataset", "digits"], "did you mean 'mobilenet_v1_025_32'"),
    (["--model", "mobilenet_v1_025_32", "--dataset", "no/such/folder"], "not found"),
    (["--model", "mobilenet_v1_025_16", "--dataset", "digits"], "at least 32"),
    (["--model", "mobilenet_v1_025_32", "--dataset", "digits", "--val-split", "1.2"], "between 0 and 1"),
])
def test_bad_input_one_line_no_output(mnd, tmp_path, args, message):
    out = tmp_path / "run"
    result = mnd("train", *args, "--out", out)
    assert result.returncode != 0
    lines = error_lines(result)
    assert len(lines) == 1 and message in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(mnd, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    result = mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--out", out)
    assert result.returncode != 0
    assert "--force" in error_lines(result)[0]


def test_folder_with_one_class_is_refused(mnd, tmp_path):
    (tmp_path / "data" / "only").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "data" / "only" / "a.png")
    result = mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", tmp_path / "data", "--out", tmp_path / "run")
    assert result.returncode != 0 and "at least 2" in error_lines(result)[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_short_run_writes_a_complete_run_directory(mnd, tmp_path):
    out = tmp_path / "run"
    mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--epochs", "2", "--out", out, check=0)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "labels.txt", "manifest.json", "model.keras",
                                                     "preprocessing.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["epochs_completed"] == 2
    assert manifest["model"]["name"] == "mobilenet_v1_025_32" and manifest["model"]["channels"] == 1
    assert manifest["dataset"]["train_samples"] + manifest["dataset"]["val_samples"] == 1797
    assert manifest["environment"]["tensorflow-cpu"] == "2.21.0"
    assert (out / "labels.txt").read_text().split() == [str(d) for d in range(10)]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.slow
def test_ctrl_c_keeps_the_last_completed_checkpoint(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([str(MND), "train", "--model", "mobilenet_v1_025_32", "--dataset", "digits",
                                "--epochs", "30", "--out", str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(tmp_path.glob(".run.partial-*/model.keras")):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "last completed checkpoint" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and 1 <= manifest["epochs_completed"] < 30
    assert (out / "model.keras").is_file()
    assert not list(tmp_path.glob(".run.*"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_digits_quality_per_seed(mnd, tmp_path, seed, digits_run):
    """Issue acceptance: validation accuracy >= 93% for each seed (seed 0 is the session's shared run); model.keras
    and val_accuracy are the best epoch's, last_val_accuracy the final epoch's.
    The 2-minute wall budget is a speed figure of this machine: `make bench` records it, a test does not."""
    out = digits_run
    if seed:
        out = tmp_path / "run"
        mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--epochs", "30", "--seed", seed,
            "--out", out, check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["seed"] == seed and manifest["epochs_completed"] == 30
    accuracies = [record["val_accuracy"] for record in manifest["history"]]
    assert manifest["val_accuracy"] == max(accuracies) and manifest["last_val_accuracy"] == accuracies[-1]
    assert manifest["val_accuracy"] >= 0.93, manifest["history"]


@pytest.mark.slow
def test_train_json_stdout_is_the_run_manifest(mnd, tmp_path):
    out = tmp_path / "run"
    result = mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--epochs", "1", "--out", out,
                 "--json", check=0)
    assert result.stdout == (out / "manifest.json").read_text()
    assert json.loads(result.stdout)["status"] == "complete"
