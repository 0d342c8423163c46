"""`mnd export` / `mnd measure` of trained MobileNet V2 0.35-96 and V3-Small 0.75-96 on the emulated cortex-m4
(DSP kernels where a layer fits) and cortex-m55 (Helium): bit-exact with LiteRT's reference kernels on every
evaluation image (else exit 3), per-layer instruction counts that add up, and a model that fits the QEMU board."""
import json

import pytest

from mnd.targets.cortex_m.cores import CORES
from tests.emulator.kernel_pairs import require_toolchain
from tests.mobilenet_runs import EVAL_SAMPLES, measured_copy, rows

pytestmark = [pytest.mark.emulator, pytest.mark.assets, pytest.mark.slow]
OWN_OPS = {"v2": {"ADD"}, "v3": {"ADD", "MUL", "HARD_SWISH", "MEAN"}}  # what V1 models never had


@pytest.fixture(params=["v2", "v3"])
def family(request):
    require_toolchain()
    return request.param


@pytest.fixture
def export(family, request):
    return request.getfixturevalue(f"{family}_export")


def check_core_row(m: dict, core: str, family: str) -> None:
    assert m["runtime"] == "mnd-c" and m["emulated"] and m["n"] == EVAL_SAMPLES and m["latency_ms"] is None
    assert m["instructions"] > 0 and OWN_OPS[family] <= {layer["op"] for layer in m["layers"]}
    # per-layer counts are per-layer means, each rounded: their sum is the total within one per layer
    assert abs(sum(layer["instructions"] for layer in m["layers"]) - m["instructions"]) <= len(m["layers"])
    assert all(layer["instructions"] > 0 for layer in m["layers"])
    assert m["arena_bytes"] == m["arena_floor_bytes"] < m["tflm_arena_bytes"]
    board = CORES[core]
    assert m["ram_bytes"] < board.ram.size and m["flash_bytes"] < board.code.size, "fits the QEMU board"


def test_export_on_cortex_m4_is_bit_exact_on_every_image(export, family):
    manifest = json.loads((export / "manifest.json").read_text())
    (m,) = rows(manifest, "cortex-m4")
    check_core_row(m, "cortex-m4", family)
    checks = {v["name"]: v for v in manifest["validations"]}
    assert checks["tflm (from .cc) vs litert reference"]["value"] == 0
    assert checks["tflm (from .cc) vs litert reference"]["detail"] == f"0 of {EVAL_SAMPLES} samples differ"
    choice = manifest["quantization"]["bias_correction"]  # residual graphs are checked like chains
    assert choice["mode"] == "auto" and choice["error_with"] is not None and choice["error_without"] is not None
    assert choice["applied"] is (choice["drop_in_standard_errors"] > 2)
    model_c = (export / "cortex-m4" / "model.c").read_text()
    assert "_dsp_s8(" in model_c, "the DSP kernels run where a layer fits them"
    report = (export / "report.md").read_text()
    assert "### `cortex-m4` (QEMU, emulated): mnd-c on tflite_int8" in report


def test_measure_on_cortex_m55_agrees_with_cortex_m4(export, family, tmp_path):
    manifest = measured_copy(export, tmp_path / "run", "cortex-m55")
    (m55,) = rows(manifest, "cortex-m55")
    (m4,) = rows(manifest, "cortex-m4")
    check_core_row(m55, "cortex-m55", family)
    assert m55["accuracy"] == m4["accuracy"], "both bit-exact with LiteRT: the same predictions"
    assert m55["instructions"] < m4["instructions"], "Helium kernels where a layer fits them"
    assert "_mve_s8(" in (tmp_path / "run" / "cortex-m55" / "model.c").read_text()
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Measurements on `cortex-m4`, `cortex-m55`" in report  # both cores' sections follow
    assert report.index("### `cortex-m4` (QEMU") < report.index("### `cortex-m55` (QEMU")
