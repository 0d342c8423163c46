"""`mnd analyze` and `mnd export --board` through the real entry point: the MLPerf VWW answer (MACs as `mnd summary`
counts them, the arena the Cortex-M export's mnd-c plans, fits) in seconds without TensorFlow; bad input is one line,
exit 2; an exported firmware is judged against the board's part."""
import hashlib
import json
import subprocess
import sys
import time

import pytest
from PIL import Image

from mnd.engine.footprint import code_bytes
from mnd.targets.registry import get_target
from tests.conftest import skip_or_fail
from tests.unit.tiny_tflite import CLASSES, SIDE, tiny_tflite

VWW = "mlperf_vww/vww_96_int8.tflite"
VWW_M4_ARENA = 55_760  # mnd-c's arena for VWW on cortex-m4 (DSP scratch included), as the export's manifest records


def refused(result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error: ")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stdout == ""
    return errors[0]


@pytest.mark.assets
def test_vww_answer_in_seconds_matches_summary_and_export(mnd, assets, tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "mnd.pipeline.cli", "analyze", assets / VWW,
                             "--board", "nucleo-l4r5zi", "--json"], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    print(f"mnd analyze VWW --board nucleo-l4r5zi --json: {time.monotonic() - started:.2f} s wall (-X importtime)")
    assert result.returncode == 0, result.stderr[-3000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "mnd.engine.generator" in imported and "tensorflow" not in imported
    doc = json.loads(result.stdout)
    summary = json.loads(mnd("summary", "--alpha", "0.25", "--resolution", "96", "--classes", "2", "--json",
                             check=0).stdout)
    assert doc["macs"] == summary["mult_adds"] == 7_489_664
    assert doc["arena_bytes"] == VWW_M4_ARENA and doc["core"] == "cortex-m4" and doc["arena_kernels"] == "dsp"
    assert doc["fits"] is True and doc["fit"]["ram"]["needed_bytes"] >= VWW_M4_ARENA
    assert doc["weight_bytes"] > 0 and doc["params"] > summary["params"]  # + folded biases
    # model.c's arrays (channels whose output is one value for every input keep no weights) plus the kernels' code
    assert doc["flash_bytes"] > code_bytes("cortex-m4", "dsp")
    assert len(doc["layers"]) == 31 and sum(row["macs"] for row in doc["layers"]) == doc["macs"]
    assert doc["layers"][0]["inputs"] == [[1, 96, 96, 3]] and doc["layers"][-1]["op"] == "SOFTMAX"
    assert isinstance(doc["tflm_arena_bytes"], int) and doc["tflm_arena_bytes"] > VWW_M4_ARENA
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.assets
def test_bad_input_is_one_line_naming_the_fix(mnd, assets, tmp_path):
    vww = assets / VWW
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest()
              for path in (vww, assets / "mlperf_vww/vww_96_float.tflite", assets / "mlperf_vww/vww_96.h5")}
    cases = [((assets / "mlperf_vww/vww_96.h5",), "not a TFLite model"),
             ((assets / "mlperf_vww/vww_96_float.tflite",), "is a float32 model, not a quantized one; quantize it"),
             ((vww, "--board", "nucleo-l4r5"), "unknown board 'nucleo-l4r5'; did you mean 'nucleo-l4r5zi'?"),
             (("mobilenet_v1_025_96",), "is a registry name, not a file"),
             ((tmp_path,), "is a folder without an 'mnd export' manifest.json")]
    for args, phrase in cases:
        assert phrase in refused(mnd("analyze", *args, cwd=tmp_path)), args
    assert before == {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in before}
    assert list(tmp_path.iterdir()) == []


def test_board_and_a_disagreeing_target_or_budget_are_refused_before_any_work(mnd, tmp_path):
    error = refused(mnd("export", "--board", "nano33-ble", "--target", "cortex-m7", "--out", tmp_path / "out"))
    assert "--board nano33-ble is a nRF52840, counted on cortex-m4, not 'cortex-m7'" in error
    error = refused(mnd("sweep", "--cost-only", "--board", "nano33-ble", "--flash-kb", "512", "--out",
                        tmp_path / "out"))
    assert "--board nano33-ble sets the flash and RAM budgets to the nRF52840's; drop --flash-kb/--ram-kb" in error
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.emulator
def test_export_board_says_whether_the_firmware_fits_the_part(mnd, tmp_path):
    if get_target("cortex-m4").check():
        skip_or_fail(f"the cortex-m4 target is unavailable: {get_target('cortex-m4').check()}")
    model = tmp_path / "tiny.tflite"
    model.write_bytes(tiny_tflite("int8"))
    for index in range(CLASSES):
        (tmp_path / "data" / str(index)).mkdir(parents=True)
        Image.new("RGB", (SIDE, SIDE), (40 * index, 20, 30)).save(tmp_path / "data" / str(index) / "x.png")
    out = tmp_path / "out"
    mnd("export", "--model", model, "--eval", tmp_path / "data", "--board", "nano33-ble", "--runs", "1",
        "--warmup", "0", "--out", out, check=0)
    doc = json.loads((out / "manifest.json").read_text())
    part, (measured,) = doc["target"]["part"], doc["measurements"]
    assert doc["target"]["name"] == "cortex-m4" and part["board"] == "nano33-ble" and part["fits"] is True
    assert (part["flash"]["needed_bytes"], part["ram"]["needed_bytes"]) == (measured["flash_bytes"],
                                                                          measured["ram_bytes"])
    assert measured["cycles_estimated"] >= measured["instructions"]  # single issue: never below
    assert part["estimate_ms"] == round(measured["cycles_estimated"] / 64e3, 3)
    report = (out / "report.md").read_text()
    assert "- fits nano33-ble (nRF52840): flash" in report and "estimate, not a measurement" in report


def test_sweep_board_takes_the_parts_memory_as_its_budgets(mnd, tmp_path):
    """Alpha 0.5 at 128 has 1.3 M int8 weights: over the nRF52840's 1 MiB flash, so nothing is built."""
    out = tmp_path / "sweep"
    mnd("sweep", "--board", "nano33-ble", "--cost-only", "--alpha", "0.5", "--resolution", "128", "--out", out,
        check=0)
    doc = json.loads((out / "sweep.json").read_text())
    (row,) = doc["rows"]
    assert doc["settings"]["target"] == "cortex-m4" and doc["settings"]["part"] == "nano33-ble"
    assert (doc["settings"]["flash_kb"], doc["settings"]["ram_kb"]) == (1024, 256)
    assert row["status"] == "does not fit" and "over the nano33-ble flash of" in row["fit_detail"]
    assert "those of board preset nano33-ble" in (out / "report.md").read_text()


def test_targets_and_analyze_help_list_the_board_presets(mnd):
    rows = {row["name"]: row for row in json.loads(mnd("targets", "--json", check=0).stdout)}
    assert [board["name"] for board in rows["cortex-m4"]["boards"]] == ["nucleo-l4r5zi", "nano33-ble"]
    assert rows["cortex-m55"]["boards"][0]["note"].startswith("a Cortex-M85, counted on the emulated cortex-m55")
    assert rows["host"]["boards"] == []
    assert "nucleo-u575zi: STM32U575ZIT6Q, cortex-m33 @ 160 MHz, 2,048 KiB flash, 786 KiB RAM" in \
        mnd("analyze", "--help", check=0).stdout
