"""mnd-c, the C engine as a Linux program, built for the host with gcc: bit-exact with LiteRT's reference kernels,
its JSON report, its refusals (bad input size, I/O errors: no partial OUTPUTS), and the project's Makefile."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mnd.base.errors import TargetUnavailable
from mnd.base.runtimes.sandbox import run_model
from mnd.base.tflite.repair import repair_tflite
from mnd.engine.linux_build import (
    AARCH64_CC,
    LinuxBuildError,
    build_executable,
    cflags_for,
    ldflags_for,
    write_linux_project,
)
from tests.unit.tiny_tflite import CHANNELS, CLASSES, SIDE, tiny_tflite

INPUT_BYTES = SIDE * SIDE * CHANNELS


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny int8 model (repaired so LiteRT loads it), its project, and mnd-c built from it with host gcc."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    tmp = tmp_path_factory.mktemp("linux")
    model = tmp / "tiny.tflite"
    model.write_bytes(repair_tflite(tiny_tflite("int8"), model.name)[0])
    generated = write_linux_project(model, tmp / "project")
    binary = build_executable(tmp / "project", tmp / "bin" / "mnd-c", cc="gcc", cpu=None, static=False)
    return model, generated, binary


def samples() -> np.ndarray:
    """Constant images across the input range (they spread the tiny model's outputs) and random ones."""
    flat = [np.full((SIDE, SIDE, CHANNELS), value, np.int8) for value in (-128, -100, -64, -20, 0, 60, 127)]
    noisy = np.random.default_rng(0).integers(-128, 128, (5, SIDE, SIDE, CHANNELS)).astype(np.int8)
    return np.concatenate([np.stack(flat), noisy])


def run(binary: Path, *args, stdin: bytes | None = None):
    return subprocess.run([str(binary), *map(str, args)], input=stdin, capture_output=True, timeout=60)


def test_outputs_are_bit_exact_with_litert_reference_and_the_report_keeps_its_contract(built, tmp_path):
    model, generated, binary = built
    inputs = samples()
    (tmp_path / "in.bin").write_bytes(inputs.tobytes())
    result = run(binary, tmp_path / "in.bin", tmp_path / "out.bin", 2, 7)
    assert result.returncode == 0, result.stderr
    ours = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(inputs), CLASSES)
    reference = run_model("litert-ref", model, inputs).outputs.reshape(len(inputs), CLASSES)
    np.testing.assert_array_equal(ours, reference)
    assert len({row.tobytes() for row in ours}) >= 4  # the comparison can tell samples apart
    report = json.loads(result.stdout)
    assert report == {"engine": "mnd-c", "samples": len(inputs), "input_bytes": INPUT_BYTES,
                      "output_bytes": CLASSES, "arena_bytes": generated.arena_bytes, "warmup": 2, "runs": 7,
                      "latencies_ms": report["latencies_ms"]}
    assert len(report["latencies_ms"]) == 7 and all(latency >= 0 for latency in report["latencies_ms"])
    assert result.stdout.decode().count("\n") == 1 and not (tmp_path / "out.bin.tmp").exists()


def test_without_warmup_and_runs_it_only_runs_the_samples_and_reads_a_pipe(built, tmp_path):
    _, _, binary = built
    inputs = samples()[:3]
    result = run(binary, "/dev/stdin", tmp_path / "out.bin", stdin=inputs.tobytes())
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["samples"], report["warmup"], report["runs"], report["latencies_ms"]) == (3, 0, 0, [])
    assert (tmp_path / "out.bin").stat().st_size == 3 * CLASSES


@pytest.mark.parametrize("size", [0, INPUT_BYTES - 1, 2 * INPUT_BYTES + 1])
def test_an_input_size_that_is_not_a_positive_multiple_is_refused(built, tmp_path, size):
    _, _, binary = built
    (tmp_path / "in.bin").write_bytes(bytes(size))
    result = run(binary, tmp_path / "in.bin", tmp_path / "out.bin", 1, 1)
    assert result.returncode == 2 and result.stdout == b""
    assert f"positive multiple of {INPUT_BYTES}" in result.stderr.decode()
    assert len(result.stderr.decode().strip().splitlines()) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.bin"]


@pytest.mark.parametrize("args", [(), ("in.bin",), ("in.bin", "out.bin", "3"), ("in.bin", "out.bin", "x", "1"),
                                  ("in.bin", "out.bin", "1", "-1"), ("in.bin", "out.bin", "1", "2junk")])
def test_usage_errors_exit_2(built, tmp_path, args):
    _, _, binary = built
    (tmp_path / "in.bin").write_bytes(bytes(INPUT_BYTES))
    result = subprocess.run([str(binary), *args], cwd=tmp_path, capture_output=True, timeout=60)
    assert result.returncode == 2 and b"usage" in result.stderr and not (tmp_path / "out.bin").exists()


def test_io_errors_are_one_line_and_leave_no_partial_outputs(built, tmp_path):
    _, _, binary = built
    (tmp_path / "in.bin").write_bytes(bytes(INPUT_BYTES))
    missing = run(binary, tmp_path / "absent.bin", tmp_path / "out.bin")
    assert missing.returncode == 1 and "absent.bin" in missing.stderr.decode()
    unwritable = run(binary, tmp_path / "in.bin", tmp_path / "no" / "such" / "out.bin")
    assert unwritable.returncode == 1 and len(unwritable.stderr.decode().strip().splitlines()) == 1
    (tmp_path / "taken").mkdir()  # OUTPUTS.tmp can be written but not renamed over a directory
    over_directory = run(binary, tmp_path / "in.bin", tmp_path / "taken")
    assert over_directory.returncode == 1 and over_directory.stdout == b""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.bin", "taken"]


def test_the_project_makefile_builds_the_same_program_and_defaults_to_static_aarch64(built, tmp_path):
    model, _, _ = built
    project = tmp_path / "project"
    write_linux_project(model, project)
    assert {"main.c", "model.c", "model.h", "kernels.c", "kernels.h", "Makefile", "README.txt"} <= \
        {path.name for path in project.iterdir()}
    dry_run = subprocess.run(["make", "-n", "--no-print-directory"], cwd=project, capture_output=True, text=True,
                             check=True)  # under `make test` a sub-make would print "Entering directory" first
    assert dry_run.stdout.startswith(f"{AARCH64_CC} ") and "-mcpu=cortex-a72" in dry_run.stdout
    assert "-static -Wl,-z,max-page-size=16384" in dry_run.stdout
    subprocess.run(["make", "-s", "CC=gcc", "CPU_FLAGS=", "LDFLAGS="], cwd=project, check=True, timeout=120)
    inputs = samples()
    (tmp_path / "in.bin").write_bytes(inputs.tobytes())
    assert run(project / "mnd-c", tmp_path / "in.bin", tmp_path / "out.bin").returncode == 0
    reference = run_model("litert-ref", model, inputs).outputs.reshape(-1)
    np.testing.assert_array_equal(np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8), reference)
    readme = (project / "README.txt").read_text()
    assert "./mnd-c inputs.bin outputs.bin 10 100" in readme and f"shape 1x{SIDE}x{SIDE}x{CHANNELS} (NHWC)" in readme
    assert "real = 0.0078125 * (q - (-128))" in readme


def test_flags():
    assert cflags_for(None) == ("-O3", "-std=c99", "-Wall")
    assert cflags_for("cortex-a76")[-1] == "-mcpu=cortex-a76"
    assert ldflags_for(True) == ("-static", "-Wl,-z,max-page-size=16384") and ldflags_for(False) == ()


def test_a_missing_compiler_names_the_fix(built, tmp_path):
    _, generated, _ = built
    project = generated.files[0].parent
    with pytest.raises(TargetUnavailable, match="apt-get install gcc-aarch64-linux-gnu, or run 'make toolchain'"):
        build_executable(project, tmp_path / "mnd-c", cc=str(tmp_path / "nowhere" / AARCH64_CC))
    with pytest.raises(TargetUnavailable, match="mnd-no-such-cc"):
        build_executable(project, tmp_path / "mnd-c", cc="mnd-no-such-cc", cpu=None)


def test_a_compile_failure_quotes_the_compiler(built, tmp_path):
    _, generated, _ = built
    project = tmp_path / "broken"
    project.mkdir()
    shutil.copy(generated.files[1], project / "model.h")
    (project / "model.c").write_text('#include "model.h"\nvoid mnd_model_invoke(const int8_t* in, int8_t* out) {'
                                     ' undeclared_thing(in, out); }\n')
    with pytest.raises(LinuxBuildError, match="undeclared_thing") as caught:
        build_executable(project, tmp_path / "mnd-c", cc="gcc", cpu=None, static=False)
    assert (project / "kernels.c").is_file() and not (tmp_path / "mnd-c").exists()
    assert "gcc failed to build mnd-c" in str(caught.value)
