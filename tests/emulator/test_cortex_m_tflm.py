"""The runtime tflm-cmsis-nn: the shared MobileNetV2 cortex-m4 export (tests/mobilenet_runs.py) measured again with
`--tflm-source` the pinned tree ../shared/vendor/tflm-cmsis-nn: its TFLite-Micro C arrays with TFLM + CMSIS-NN,
under mnd's harness and QEMU, beside mnd-c. The library is built once and cached in MND_CACHE (a cold build is part
of this file's time), so a second build compiles nothing."""
import pytest

from mnd.pipeline.sources.tflite_read import read_tflite
from mnd.targets.cortex_m.cores import CORES
from mnd.targets.cortex_m.tflm_library import build_library
from mnd.targets.cortex_m.tflm_tree import find_tree
from mnd.targets.registry import get_target
from mnd.targets.toolchain import problem
from tests.conftest import REPO, skip_or_fail
from tests.mobilenet_runs import EVAL_SAMPLES, measured_copy, rows

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
    manifest = measured_copy(v2_export, copy, "cortex-m4", "--tflm-source", tflm_vendor)
    return copy, manifest


def test_tflm_runs_beside_mnd_c_bit_exact(tflm_measured):
    run, manifest = tflm_measured
    by_runtime = {m["runtime"]: m for m in rows(manifest, "cortex-m4")}
    assert set(by_runtime) == {"mnd-c", "tflm-cmsis-nn"}
    tflm, ours = by_runtime["tflm-cmsis-nn"], by_runtime["mnd-c"]
    assert tflm["artifact"] == "tflm_c_source" and tflm["emulated"] is True and tflm["n"] == EVAL_SAMPLES
    (exact,) = [v for v in manifest["validations"] if v["name"] == "cortex-m4 tflm-cmsis-nn vs litert reference"]
    assert exact["passed"] is True and exact["value"] == 0
    assert tflm["accuracy"] == ours["accuracy"]  # both equal LiteRT's reference outputs, so they agree
    report = (run / "report.md").read_text()
    assert "tflm-cmsis-nn on tflm_c_source" in report and "mnd-c on the same core and samples" in report


def test_one_profile_entry_per_operator_summing_to_the_total(tflm_measured):
    run, manifest = tflm_measured
    (tflm,) = [m for m in rows(manifest, "cortex-m4") if m["runtime"] == "tflm-cmsis-nn"]
    int8 = next(a for a in manifest["artifacts"] if a["kind"] == "tflite_int8")
    ops = read_tflite((run / int8["path"]).read_bytes()).ops
    assert [layer["op"] for layer in tflm["layers"]] == list(ops)
    assert all(layer["instructions"] > 0 for layer in tflm["layers"])
    counted = sum(layer["instructions"] for layer in tflm["layers"])
    assert abs(counted - tflm["instructions"]) <= len(ops) // 2 + 1  # each layer's mean rounded on its own
    convs = [layer for layer in tflm["layers"] if layer["op"] == "CONV_2D"]
    assert sum(layer["macs"] for layer in convs) > 0


def test_arena_flash_and_ram_are_reported(tflm_measured):
    run, manifest = tflm_measured
    (tflm,) = [m for m in rows(manifest, "cortex-m4") if m["runtime"] == "tflm-cmsis-nn"]
    model_bytes = (run / next(a for a in manifest["artifacts"] if a["kind"] == "tflite_int8")["path"]).stat().st_size
    assert 0 < tflm["arena_bytes"] == tflm["ram_parts"]["arena"] <= 2 * tflm["tflm_arena_bytes"] + 65536
    assert tflm["ram_bytes"] == sum(tflm["ram_parts"].values())
    assert tflm["flash_parts"]["model"] >= model_bytes and tflm["flash_parts"]["tflm"] > 0
    assert tflm["flash_bytes"] >= sum(tflm["flash_parts"].values())
    assert (run / "cortex-m4" / "tflm-cmsis-nn" / "build" / "firmware.elf").is_file()


def test_the_library_is_cached(tflm_measured, tflm_vendor):
    run, manifest = tflm_measured
    int8 = next(a for a in manifest["artifacts"] if a["kind"] == "tflite_int8")
    ops = list(read_tflite((run / int8["path"]).read_bytes()).ops)
    again = build_library(find_tree(tflm_vendor), CORES["cortex-m4"], ops)
    assert again.compiled == 0 and again.archive.is_file() and again.sources > 50
