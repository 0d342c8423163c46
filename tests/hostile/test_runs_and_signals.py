"""Hostile and interrupted runs: --out races and overlaps, signals, cached runs, flags out of range.

Each test reproduces an item of the hostile-inputs issue and asserts the exit code, exactly one error line, and
that nothing was written, deleted or left behind."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import MND

E = ("--eval-samples", "20", "--runs", "2", "--warmup", "0", "--target", "host")


def error_lines(stderr: str) -> list:
    assert "Traceback" not in stderr, stderr[-3000:]
    return [line for line in stderr.splitlines() if ": error:" in line]


def start(*args, cwd=None, env=None):
    return subprocess.Popen([str(MND), *map(str, args)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, cwd=cwd, env={**os.environ, **(env or {})})


def wait_for(condition, process, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None and not condition():
        time.sleep(0.05)
    assert condition(), f"condition not met; exit {process.poll()}"


def vww_int8(assets) -> Path:
    return assets / "mlperf_vww" / "vww_96_int8.tflite"


@pytest.mark.slow
@pytest.mark.assets
def test_out_that_appears_during_an_export_is_kept(assets, tmp_path):
    out = tmp_path / "O"
    process = start("export", "--model", vww_int8(assets), "--eval", assets / "vww_dev", *E, "--out", out)
    wait_for(lambda: any(tmp_path.glob(".O.partial-*")), process)
    out.mkdir()
    (out / "mine.txt").write_text("do not delete")
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 2 and len(error_lines(stderr)) == 1 and "appeared" in stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"] and (out / "mine.txt").read_text() == "do not delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["O"]


@pytest.mark.parametrize("layout", ["out_is_the_data_folder", "out_inside_the_data", "out_is_the_model"])
def test_out_overlapping_an_input_is_refused_before_anything_runs(tmp_path, mnd, layout):
    data = tmp_path / "D"
    (data / "vww_dev" / "person").mkdir(parents=True)
    (data / "model.tflite").write_bytes(b"not read")
    (data / "unrelated.txt").write_text("keep me")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    out = {"out_is_the_data_folder": data, "out_inside_the_data": data / "vww_dev" / "out",
           "out_is_the_model": data / "model.tflite"}[layout]
    result = mnd("export", "--model", data / "model.tflite", "--eval", data / "vww_dev", "--out", out, "--force")
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1 and "overlaps the input" in result.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_force_replaces_only_an_earlier_mnd_run(tmp_path, mnd):
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.jpg").write_bytes(b"jpeg")
    result = mnd("export", "--out", precious, "--force")
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1 and "earlier mnd run" in result.stderr
    assert (precious / "holiday.jpg").read_bytes() == b"jpeg"


@pytest.mark.parametrize("out", [".", ".."])
def test_out_that_is_or_contains_the_working_directory_is_refused(tmp_path, mnd, out):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "keep.txt").write_text("x")
    result = mnd("export", "--out", out, "--force", cwd=tmp_path / "work")
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1 and "working directory" in result.stderr
    assert (tmp_path / "work" / "keep.txt").read_text() == "x"


@pytest.mark.parametrize("case", ["parent_is_a_file", "name_too_long", "parent_immutable"])
def test_unusable_out_paths_give_one_line(tmp_path, mnd, case):
    if case == "parent_is_a_file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "run"
    elif case == "name_too_long":
        out = tmp_path / ("r" * 300)
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        immutable(locked)
        out = locked / "run"
    try:
        result = mnd("export", "--out", out, "--train-epochs", "0", "--allow-drift", *E,
                     env={"MND_CACHE": str(tmp_path / "cache")})
    finally:
        if case == "parent_immutable":
            subprocess.run(["chattr", "-i", str(tmp_path / "locked")], check=True)
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1, result.stderr[-2000:]
    assert not any(p.name.startswith((".run", ".r", ".mnd")) for p in tmp_path.rglob("*"))
    assert not (tmp_path / "cache").exists()  # refused when --out was claimed, before training the default


def immutable(path: Path) -> None:
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()}")


@pytest.mark.slow
@pytest.mark.assets
def test_force_over_an_immutable_run_rolls_back_with_one_line(assets, tmp_path, mnd):
    flags = ("--model", vww_int8(assets), "--eval", assets / "vww_dev", *E)
    out = tmp_path / "run"
    mnd("export", "--out", out, *flags, check=0)
    manifest = (out / "manifest.json").read_bytes()
    immutable(out)
    try:
        result = mnd("export", "--out", out, "--force", *flags)
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1, result.stderr[-2000:]
    assert (out / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.slow
@pytest.mark.assets
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_a_signal_during_export_leaves_nothing(assets, tmp_path, signum, code):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process = start("export", "--model", vww_int8(assets), "--eval", assets / "vww_dev", *E, "--out",
                    tmp_path / "O", env={"TMPDIR": str(temporary)})
    wait_for(lambda: any(tmp_path.glob(".O.partial-*/*.onnx")), process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code and error_lines(stderr) == [f"mnd: error: interrupted by {signum.name}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"] and list(temporary.iterdir()) == []


@pytest.mark.slow
def test_an_interrupted_cached_training_run_is_trained_again(tmp_path):
    env = {"MND_CACHE": str(tmp_path / "cache")}
    args = ("export", "--model", "mobilenet_v1_025_32", "--train-epochs", "6", "--out", tmp_path / "O", *E)
    first = start(*args, env=env)
    wait_for(lambda: any(json.loads(p.read_text())["epochs_completed"] >= 2
                         for p in (tmp_path / "cache").glob(".*partial-*/manifest.json")), first)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr[-2000:]
    cached = next(path for path in (tmp_path / "cache").iterdir() if path.is_dir())  # not the lock file
    assert json.loads((cached / "manifest.json").read_text())["status"] == "interrupted"
    second = start(*args, env=env)
    lines = []
    for line in second.stderr:
        lines.append(line)
        if "training it again" in line or "reusing" in line:
            break
    second.send_signal(signal.SIGINT)
    second.communicate(timeout=120)
    assert "is interrupted, not complete: training it again" in lines[-1], lines


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.1])  # mid-save: the checkpoint takes about 0.1-0.3 s after the line
def test_a_signal_just_after_an_epoch_line_publishes_a_whole_checkpoint(tmp_path, delay):
    """The checkpoint is written right after the epoch line: a signal then must not leave half a file."""
    out = tmp_path / "run"
    process = start("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--epochs", "30",
                    "--batch-size", "256", "--out", out)
    for line in process.stderr:
        if line.startswith("mnd: epoch 1/30"):
            break
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "labels.txt", "manifest.json", "model.keras",
                                                      "preprocessing.json"]
    assert (out / "model.keras").stat().st_size > 10_000
    assert (out / "checkpoints" / "checkpoint").is_file()  # what --resume continues from
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("args", [
    ["export", "--train-epochs", "-1"], ["export", "--warmup", "-5"], ["export", "--max-drop", "nan"],
    ["export", "--max-drop", "-1"], ["export", "--clock-mhz", "0"], ["export", "--clock-mhz", "-5"],
    ["export", "--clock-mhz", "nan"], ["export", "--clock-mhz", "inf"], ["export", "--seed", "-1"],
    ["train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--lr", "nan"],
    ["train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--lr", "-1"],
    ["train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--seed", "-1"],
    ["measure", "RUN", "--runs", "0"], ["summary", "--alpha", "nan"], ["export", "--crop", "1.5"],
])
def test_numbers_out_of_range_are_refused_when_parsed(tmp_path, mnd, args):
    out = ["--out", tmp_path / "out"] if args[0] in ("export", "train") else []
    result = mnd(*args, *out, env={"MND_CACHE": str(tmp_path / "cache")}, cwd=tmp_path)
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1, result.stderr
    assert "out of range" in result.stderr and "--help" in result.stderr
    assert list(tmp_path.iterdir()) == []
