"""The TFLM runtimes: the shared MobileNetV2 cortex-m4 export (tests/mobilenet_runs.py) measured again with
`--tflm-source` the pinned tree ../shared/vendor/tflm-cmsis-nn and `--tflm-runtimes all`: its TFLite-Micro C arrays
with TFLM + CMSIS-NN (tflm-cmsis-nn) and with TFLM's reference kernels (tflm-reference), under mnd's harness and
QEMU, beside mnd-c. Each library is built once and cached in MND_CACHE (cold builds are part of this file's time),
so a second build compiles nothing."""
import pytest

from mnd.base.tflite.read import read_tflite
from mnd.targets.cortex_m.cores import CORES
from mnd.targets.cortex_m.tflm_library import build_library
from mnd.targets.cortex_m.tflm_tree import find_tree
from mnd.targets.registry import get_target
from mnd.targets.toolchain import problem
from tests.conftest import REPO, skip_or_fail
from tests.mobilenet_runs import EVAL_SAMPLES, measured_copy, rows

TFLM_RUNTIMES = ("tflm-cmsis-nn", "tflm-reference")

pytestmark = [pytest.mark.emulator, pytest.mark.slow, pytest.mark.assets]
VENDOR = REPO.parent / "shared" / "vendor" / "tflm-cmsis-nn"


@pytest.fixture(scope="session")
def tflm_vendor():
    missing = get_target("cortex-m4").check() or problem(("tflm",))
    if missing:
        skip_or_fail(missing)
    if not (VENDOR / "tensorflow").is_dir():
        skip_or_fail(f"the pinned TFLM + CMSIS-NN tree is not at {VENDOR}")
    return VENDOR


@pytest.fixture(scope="session")
def tflm_measured(tflm_vendor, v2_export, tmp_path_factory):
    copy = tmp_path_factory.mktemp("tflm") / "v2-m4"
    manifest = measured_copy(v2_export, copy, "cortex-m4", "--tflm-source", tflm_vendor, "--tflm-runtimes", "all")
    return copy, manifest


def _tflm_rows(manifest) -> dict:
    return {m["runtime"]: m for m in rows(manifest, "cortex-m4") if m["runtime"] in TFLM_RUNTIMES}


def test_tflm_runs_beside_mnd_c_bit_exact(tflm_measured):
    run, manifest = tflm_measured
    by_runtime = {m["runtime"]: m for m in rows(manifest, "cortex-m4")}
    assert set(by_runtime) == {"mnd-c", *TFLM_RUNTIMES}
    checks = {v["name"]: v for v in manifest["validations"]}
    for runtime in ("mnd-c", *TFLM_RUNTIMES):
        row, exact = by_runtime[runtime], checks[f"cortex-m4 {runtime} vs litert reference"]
        assert exact["passed"] is True and exact["detail"] == f"0 of {EVAL_SAMPLES} samples differ", runtime
        assert row["emulated"] is True and row["n"] == EVAL_SAMPLES
        assert row["accuracy"] == by_runtime["mnd-c"]["accuracy"]  # all equal LiteRT's reference outputs
    for runtime in TFLM_RUNTIMES:
        assert by_runtime[runtime]["artifact"] == "tflm_c_source"
        assert by_runtime[runtime]["tflm_tree"]["key"] == find_tree(VENDOR).key()
    reference, cmsis_nn = by_runtime["tflm-reference"], by_runtime["tflm-cmsis-nn"]
    assert reference["instructions"] > cmsis_nn["instructions"]  # CMSIS-NN's kernels do the same work in fewer
    report = (run / "report.md").read_text()
    assert "tflm-cmsis-nn on tflm_c_source" in report and "tflm-reference on tflm_c_source" in report
    assert report.count("mnd-c on the same core and samples") == 2


def test_one_profile_entry_per_operator_summing_to_the_total(tflm_measured):
    run, manifest = tflm_measured
    int8 = next(a for a in manifest["artifacts"] if a["kind"] == "tflite_int8")
    ops = read_tflite((run / int8["path"]).read_bytes()).ops
    for runtime, tflm in _tflm_rows(manifest).items():
        assert [layer["op"] for layer in tflm["layers"]] == list(ops), runtime
        assert all(layer["instructions"] > 0 for layer in tflm["layers"])
        for field in ("instructions", "cycles_estimated"):
            counted = sum(layer[field] for layer in tflm["layers"])
            assert abs(counted - tflm[field]) <= len(ops) // 2 + 1, (runtime, field)  # layer means rounded apart
        convs = [layer for layer in tflm["layers"] if layer["op"] == "CONV_2D"]
        assert sum(layer["macs"] for layer in convs) > 0


def test_arena_flash_and_ram_are_reported(tflm_measured):
    run, manifest = tflm_measured
    model_bytes = (run / next(a for a in manifest["artifacts"] if a["kind"] == "tflite_int8")["path"]).stat().st_size
    for runtime, tflm in _tflm_rows(manifest).items():
        assert 0 < tflm["arena_bytes"] == tflm["ram_parts"]["arena"] <= 2 * tflm["tflm_arena_bytes"] + 65536
        assert tflm["ram_bytes"] == sum(tflm["ram_parts"].values())
        assert tflm["flash_parts"]["model"] >= model_bytes and tflm["flash_parts"]["tflm"] > 0
        assert tflm["flash_bytes"] >= sum(tflm["flash_parts"].values())
        assert tflm["model_flash_bytes"] == tflm["flash_parts"]["model"] + tflm["flash_parts"]["tflm"]
        assert (run / "cortex-m4" / runtime / "build" / "firmware.elf").is_file()
    ours = next(m for m in rows(manifest, "cortex-m4") if m["runtime"] == "mnd-c")
    assert 0 < ours["model_flash_bytes"] == ours["flash_parts"]["model"] < ours["flash_bytes"]
    assert "- model library flash: " in (run / "report.md").read_text()


def test_each_library_is_cached(tflm_measured, tflm_vendor):
    run, manifest = tflm_measured
    int8 = next(a for a in manifest["artifacts"] if a["kind"] == "tflite_int8")
    ops = list(read_tflite((run / int8["path"]).read_bytes()).ops)
    archives = set()
    for kernels in ("cmsis_nn", "reference"):
        again = build_library(find_tree(tflm_vendor), CORES["cortex-m4"], ops, kernels)
        assert again.compiled == 0 and again.archive.is_file() and again.sources > 50
        archives.add(again.archive.parent)
    assert len(archives) == 2  # a cache folder per kernel set
