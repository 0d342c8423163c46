"""`mnd export --target cortex-m*`: real models on emulated cores, bit-exact, with counts, arena, RAM, flash."""
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys

import pytest

from mnd.base.tflite.read import read_tflite
from mnd.targets.cortex_m.firmware import HARNESS
from mnd.targets.registry import get_target
from tests.conftest import REPO, run_mnd, skip_or_fail
from tests.tour_runs import tour_output

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
PROJECT_TEXTS = ("Makefile", "README.txt")
VENV = sys.prefix if sys.prefix != sys.base_prefix else None  # the virtual environment running these tests, if any


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    problem = get_target("cortex-m4").check()
    if problem:
        skip_or_fail(problem)


def emulated(out, core):
    manifest = json.loads((out / "manifest.json").read_text())
    (m,) = [m for m in manifest["measurements"] if m["target"] == core]
    return manifest, m


@pytest.mark.assets
def test_vww_int8_on_m4_all_200_images(tour):
    """The README tour's `mnd export --target cortex-m4 --model vww_96_int8.tflite --eval vww_dev --clock-mhz 80`."""
    out = tour_output(tour, "out/vww-m4")
    manifest, m = emulated(out, "cortex-m4")
    assert m["runtime"] == "mnd-c" and m["emulated"] is True and m["n"] == 200 and m["latency_ms"] is None
    assert 0.8 <= m["accuracy"] <= 0.9
    assert 7_489_664 / 2 < m["instructions"] <= 40_000_000  # first goal with plain C kernels
    assert len(m["layers"]) == 31 and sum(layer["macs"] for layer in m["layers"]) == 7_489_664
    assert m["instructions"] < m["cycles_estimated"] and m["flash_wait_states"] == 0  # single issue: never below
    assert abs(sum(layer["cycles_estimated"] for layer in m["layers"]) - m["cycles_estimated"]) <= len(m["layers"])
    # the two-buffer floor (layer 2: 48x48x8 in, 48x48x16 out) plus that 1x1 DSP kernel's scratch: its requantization
    # table and channel order for 8 channel pairs (416) and three pixels' widened lanes of two groups (3 * 2 * 8)
    assert m["arena_bytes"] == m["arena_floor_bytes"] == 55_296 + 416 + 48
    assert m["tflm_arena_bytes"] > m["arena_bytes"]
    assert m["flash_bytes"] == sum(m["flash_parts"].values()) or m["flash_bytes"] >= sum(m["flash_parts"].values())
    assert m["ram_parts"]["model"] >= m["arena_bytes"] and m["ram_parts"]["stack_peak"] > 0
    assert next(v for v in manifest["validations"] if v["name"].startswith("tflm"))["value"] == 0
    report = (out / "report.md").read_text()
    assert "instruction counts, not cycles" in report and "estimate, not a measurement" in report
    assert f"- estimated cycles per inference: {m['cycles_estimated']:,}" in report
    assert (out / "cortex-m4" / "model.c").is_file() and (out / "cortex-m4" / "kernels.c").is_file()


@pytest.mark.assets
def test_firmware_does_not_depend_on_the_evaluation_data(assets, mnd, tmp_path):
    digests = []
    for samples in ("3", "7"):
        out = tmp_path / samples
        mnd("export", "--target", "cortex-m33", "--model", assets / "tflm_person_detection" / "person_detect.tflite",
            "--eval", assets / "vww_dev", "--to-gray", "--eval-samples", samples, "--out", out, check=0)
        elf = next((out / "cortex-m33" / "build").glob("*.elf"))
        digests.append(hashlib.sha256(elf.read_bytes()).hexdigest())
        assert emulated(out, "cortex-m33")[1]["n"] == int(samples)
    assert digests[0] == digests[1]


def export_then_measure_every_core(mnd, out, *export_args):
    """Export for the first core, then re-measure the same run on the others: one model, one manifest."""
    mnd("export", "--target", CORES[0], *export_args, "--out", out, check=0)
    for core in CORES[1:]:
        mnd("measure", out, "--target", core, check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    return {m["target"]: m for m in manifest["measurements"]}


@pytest.mark.assets
def test_vww_h5_ptq_on_every_core(tour, tmp_path):
    """The README tour's `mnd export --model vww_96.h5 --calib vww_dev --target cortex-m4`, measured on the others."""
    out = tmp_path / "h5"
    shutil.copytree(tour_output(tour, "out/vww-h5"), out)  # the tour's run stays as the tour left it
    for core in CORES[1:]:
        run_mnd("measure", out, "--target", core, check=0)
    runs = {m["target"]: m for m in json.loads((out / "manifest.json").read_text())["measurements"]}
    assert set(runs) == set(CORES)
    for m in runs.values():  # --calib alone: it is split, half calibrates, half evaluates
        # at most 16 MACs an instruction (Helium's VMLADAVA on 16 int8 lanes), at least the plain C kernels' first goal
        assert m["n"] == 100 and m["emulated"] and 7_489_664 / 16 < m["instructions"] <= 40_000_000
        assert m["arena_bytes"] < m["tflm_arena_bytes"]
    assert len({m["accuracy"] for m in runs.values()}) == 1  # bit-exact everywhere: the same predictions


@pytest.mark.assets
def test_person_detect_on_every_core(assets, mnd, tmp_path):
    runs = export_then_measure_every_core(
        mnd, tmp_path / "person", "--model", assets / "tflm_person_detection" / "person_detect.tflite",
        "--eval", assets / "vww_dev", "--to-gray")
    for m in runs.values():
        assert m["n"] == 200 and m["accuracy"] > 0.6 and m["arena_bytes"] <= m["tflm_arena_bytes"]


@pytest.mark.assets  # the tour takes the example files too
def test_builtin_default_on_every_core(tour):
    """The README tour's digits run exported to cortex-m4 and measured on the other cores."""
    manifest = json.loads((tour_output(tour, "out/digits-m4") / "manifest.json").read_text())
    runs = {m["target"]: m for m in manifest["measurements"]}
    assert set(runs) == set(CORES)
    for m in runs.values():
        assert m["n"] == 359 and m["accuracy"] >= 0.93
        # layer counts are per-layer means, each rounded: their sum may pass the rounded total by < 1 per layer
        assert sum(layer["instructions"] for layer in m["layers"]) <= m["instructions"] + len(m["layers"])


@pytest.fixture(scope="module")
def relative_m4_run(digits_run, tmp_path_factory):
    """As `make demo` calls it: --out relative to the caller's working directory (5 samples, shared below)."""
    cwd = tmp_path_factory.mktemp("relative")
    run_mnd("export", "--target", "cortex-m4", "--model", digits_run, "--eval-samples", "5", "--out", "out/rel",
            cwd=cwd, check=0)
    return cwd / "out" / "rel"


def test_relative_output_path_from_another_directory(relative_m4_run):
    assert emulated(relative_m4_run, "cortex-m4")[1]["n"] == 5


def test_portable_kernels_are_what_kernels_portable_builds_and_runs(relative_m4_run, digits_run, mnd, tmp_path):
    """--kernels auto (the default) calls the DSP kernels on cortex-m4; --kernels portable calls none of them, runs
    other instructions and predicts the same (both bit-exact with LiteRT), and the manifest says which it was."""
    assert "_dsp_s8(" in (relative_m4_run / "cortex-m4" / "model.c").read_text()
    out = tmp_path / "portable"
    mnd("export", "--target", "cortex-m4", "--model", digits_run, "--eval-samples", "5", "--kernels", "portable",
        "--out", out, check=0)
    model_c = (out / "cortex-m4" / "model.c").read_text()
    assert "_dsp_" not in model_c and "mnd_conv2d_s8(" in model_c and "mnd_depthwise_conv2d_s8(" in model_c
    manifest, portable = emulated(out, "cortex-m4")
    auto_manifest, auto = emulated(relative_m4_run, "cortex-m4")
    assert manifest["target"]["options"]["kernels"] == "portable" and "kernels" not in auto_manifest["target"]["options"]
    assert portable["instructions"] > auto["instructions"] and portable["accuracy"] == auto["accuracy"]
    assert next(v for v in manifest["validations"] if v["name"].startswith("tflm"))["value"] == 0


def test_kernels_flag_is_refused_where_no_c_engine_is_generated(tmp_path):
    result = run_mnd("export", "--target", "host", "--kernels", "portable", "--out", tmp_path / "x")
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(errors) == 1, result.stderr
    assert "--kernels applies to the cortex-m targets only" in errors[0] and not (tmp_path / "x").exists()


def symbols(library):
    return subprocess.run(["arm-none-eabi-nm", str(library)], capture_output=True, text=True, check=True).stdout


def make(folder, *args):
    """make with PATH alone, less the venv's directories: what a user's shell without mnd has."""
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not (VENV and d.startswith(VENV)))
    result = subprocess.run(["make", "-C", str(folder), *args], capture_output=True, text=True, timeout=300,
                            env={"PATH": path}, cwd=folder.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_folder_builds_alone_with_make(relative_m4_run, tmp_path):
    if shutil.which("make") is None:
        skip_or_fail("make not found")
    alone = shutil.copytree(relative_m4_run / "cortex-m4", tmp_path / "cortex-m4")
    for text in (f.read_text() for f in alone.iterdir() if f.name in PROJECT_TEXTS or f.suffix in (".c", ".h")):
        assert str(REPO) not in text and str(relative_m4_run) not in text and (VENV is None or VENV not in text)
    make(alone)
    plain = symbols(alone / "libmnd_model.a")
    assert re.search(r"^[0-9a-f]+ T mnd_model_invoke$", plain, re.MULTILINE) and "mnd_marker" not in plain
    make(alone, "clean")
    assert not (alone / "libmnd_model.a").exists() and not (alone / "model.o").exists()
    make(alone, f"CPPFLAGS=-DMND_PROFILE -I{HARNESS}")  # as the harness build compiles it
    assert re.search(r"^\s+U mnd_marker$", symbols(alone / "libmnd_model.a"), re.MULTILINE)


def test_readme_and_header_state_the_models_numbers(relative_m4_run):
    manifest, m = emulated(relative_m4_run, "cortex-m4")
    (int8,) = [a["path"] for a in manifest["artifacts"] if a["kind"] == "tflite_int8"]
    info = read_tflite((relative_m4_run / int8).read_bytes())
    readme = (relative_m4_run / "cortex-m4" / "README.txt").read_text()
    assert "void mnd_model_invoke(const int8_t* input, int8_t* output);" in readme
    assert f"Input: shape {'x'.join(map(str, manifest['model']['input_shape']))} (NHWC), int8" in readme
    for tensor in (info.inputs[0], info.outputs[0]):
        assert f"scale {tensor.scale!r}, zero point {tensor.zero_point}:" in readme
    assert f"MND_INPUT_BYTES ({math.prod(info.inputs[0].shape)})" in readme
    assert f"Arena: {m['arena_bytes']} bytes (MND_ARENA_BYTES), exact" in readme
    tflm = manifest["model"]["tflm_arena_bytes"]
    assert f"{tflm} bytes of tensor arena" in readme and "64-bit host build; a 32-bit core needs less" in readme
    header = (relative_m4_run / "cortex-m4" / "model.h").read_text()
    assert f"#define MND_ARENA_BYTES {m['arena_bytes']}" in header
    assert f"is {tflm} bytes as measured with TFLM's Python interpreter, a 64-bit host build" in header


def test_float_only_export_is_refused_for_an_mcu(assets, mnd, tmp_path):
    result = mnd("export", "--target", "cortex-m4", "--model", assets / "mlperf_vww" / "vww_96_float.tflite",
                 "--calib", assets / "vww_dev", "--out", tmp_path / "out")
    assert result.returncode != 0 and "full-integer int8" in result.stderr and not (tmp_path / "out").exists()
