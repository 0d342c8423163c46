"""`mnd export --target cortex-m*`: real models on emulated cores, bit-exact, with counts, arena, RAM, flash."""
import hashlib
import json
import shutil

import pytest

from mnd.targets.cortex_m.target import TOOLS
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not found (run 'make toolchain')")


def emulated(out, core):
    manifest = json.loads((out / "manifest.json").read_text())
    (m,) = [m for m in manifest["measurements"] if m["target"] == core]
    return manifest, m


@pytest.mark.assets
def test_vww_int8_on_m4_all_200_images(assets, mnd, tmp_path):
    out = tmp_path / "vww"
    mnd("export", "--target", "cortex-m4", "--model", assets / "mlperf_vww" / "vww_96_int8.tflite",
        "--eval", assets / "vww_dev", "--out", out, "--clock-mhz", "80", check=0)
    manifest, m = emulated(out, "cortex-m4")
    assert m["runtime"] == "mnd-c" and m["emulated"] is True and m["n"] == 200 and m["latency_ms"] is None
    assert 0.8 <= m["accuracy"] <= 0.9
    assert 7_489_664 / 2 < m["instructions"] <= 40_000_000  # first goal with plain C kernels
    assert len(m["layers"]) == 31 and sum(layer["macs"] for layer in m["layers"]) == 7_489_664
    assert m["arena_bytes"] <= 56 * 1024 and m["arena_floor_bytes"] == 55_296
    assert m["tflm_arena_bytes"] > m["arena_bytes"]
    assert m["flash_bytes"] == sum(m["flash_parts"].values()) or m["flash_bytes"] >= sum(m["flash_parts"].values())
    assert m["ram_parts"]["model"] >= m["arena_bytes"] and m["ram_parts"]["stack_peak"] > 0
    assert next(v for v in manifest["validations"] if v["name"].startswith("tflm"))["value"] == 0
    report = (out / "report.md").read_text()
    assert "instruction counts, not cycles" in report and "estimate, not a measurement" in report
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
def test_vww_h5_ptq_on_every_core(assets, mnd, tmp_path):
    runs = export_then_measure_every_core(mnd, tmp_path / "h5", "--model", assets / "mlperf_vww" / "vww_96.h5",
                                          "--calib", assets / "vww_dev", "--eval", assets / "vww_dev")
    assert set(runs) == set(CORES)
    for m in runs.values():  # --calib and --eval name the same set: it is split, half calibrates, half evaluates
        assert m["n"] == 100 and m["emulated"] and 7_489_664 / 2 < m["instructions"] <= 40_000_000
        assert m["arena_bytes"] < m["tflm_arena_bytes"]
    assert len({m["accuracy"] for m in runs.values()}) == 1  # bit-exact everywhere: the same predictions


@pytest.mark.assets
def test_person_detect_on_every_core(assets, mnd, tmp_path):
    runs = export_then_measure_every_core(
        mnd, tmp_path / "person", "--model", assets / "tflm_person_detection" / "person_detect.tflite",
        "--eval", assets / "vww_dev", "--to-gray")
    for m in runs.values():
        assert m["n"] == 200 and m["accuracy"] > 0.6 and m["arena_bytes"] <= m["tflm_arena_bytes"]


def test_builtin_default_on_every_core(digits_run, mnd, tmp_path):
    runs = export_then_measure_every_core(mnd, tmp_path / "digits", "--model", digits_run)
    for m in runs.values():
        assert m["n"] == 359 and m["accuracy"] >= 0.93
        # layer counts are per-layer means, each rounded: their sum may pass the rounded total by < 1 per layer
        assert sum(layer["instructions"] for layer in m["layers"]) <= m["instructions"] + len(m["layers"])


def test_relative_output_path_from_another_directory(digits_run, mnd, tmp_path):
    """As `make demo` calls it: --out relative to the caller's working directory."""
    mnd("export", "--target", "cortex-m4", "--model", digits_run, "--eval-samples", "5", "--out", "out/rel",
        cwd=tmp_path, check=0)
    assert emulated(tmp_path / "out" / "rel", "cortex-m4")[1]["n"] == 5


def test_float_only_export_is_refused_for_an_mcu(assets, mnd, tmp_path):
    result = mnd("export", "--target", "cortex-m4", "--model", assets / "mlperf_vww" / "vww_96_float.tflite",
                 "--calib", assets / "vww_dev", "--out", tmp_path / "out")
    assert result.returncode != 0 and "full-integer int8" in result.stderr and not (tmp_path / "out").exists()
