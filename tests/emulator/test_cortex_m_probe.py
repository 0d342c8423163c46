"""`--probe gdb://HOST:PORT` end to end against QEMU's own gdbstub (mps2-an386 started empty and halted, as a board's
GDB server would be): the probe build of a cortex-m4 export loaded by gdb-multiarch, its samples written into RAM
and read back. Everything but the cycle counter is exercised; QEMU has no DWT, so the row must say it is absent."""
import json
import shutil

import numpy as np
import pytest

from mnd.targets.cortex_m.cores import CORES
from mnd.targets.cortex_m.firmware import Firmware, Sizes, build_plugin, marker_address
from mnd.targets.cortex_m.gdb_probe import Probe, run_on_probe
from mnd.targets.cortex_m.probe_state import COUNTER_ABSENT, NOT_ADVANCING
from mnd.targets.cortex_m.qemu import run_firmware
from mnd.targets.registry import get_target
from mnd.targets.toolchain import problem
from tests.conftest import run_mnd, skip_or_fail
from tests.gdbstub import free_port, gdbstub
from tests.mobilenet_runs import rows

pytestmark = [pytest.mark.emulator, pytest.mark.probe, pytest.mark.assets, pytest.mark.slow]
CORE = "cortex-m4"
BOARD = "nucleo-l4r5zi"  # a cortex-m4 preset


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    missing = get_target(CORE).check() or problem(("cortex-m-probe",))
    if missing:
        skip_or_fail(missing)


@pytest.fixture
def port():
    """QEMU's gdbstub for cortex-m4, as a board's GDB server would be."""
    with gdbstub(CORES[CORE].machine) as port:
        yield port


def test_probe_row_matches_the_emulated_run(v2_export, port, tmp_path):
    """`mnd measure --probe` without --board (the probe build linked for QEMU's map, as QEMU's gdbstub needs) beside
    the export's emulated row: the same accuracy on the same samples (every output checked bit-exact with LiteRT's
    reference, as the emulated run's were), a row naming QEMU's machine and no clock, and no cycles, since QEMU has
    no cycle counter. Then the probe ELF and the emulated ELF, on the same random inputs, give the same bytes."""
    run = shutil.copytree(v2_export, tmp_path / "run")
    url = f"gdb://127.0.0.1:{port}"
    result = run_mnd("measure", run, "--target", CORE, "--probe", url, check=0)
    manifest = json.loads((run / "manifest.json").read_text())
    (emulated,) = [m for m in rows(manifest, CORE) if m["emulated"]]
    (board,) = [m for m in rows(manifest, CORE) if not m["emulated"]]
    assert board["probe"] == {"url": url, "board": CORES[CORE].machine, "part": f"QEMU's {CORE} memory map (no "
                              "--board)", "cycle_counter": "absent", "note": COUNTER_ABSENT[NOT_ADVANCING]}
    assert board["cycles"] is None and board["latency_ms"] is None and board["instructions"] is None
    assert board["clock_mhz"] is None and manifest["target"]["options"]["probe"] == url
    assert (board["n"], board["accuracy"], board["runtime"]) == (emulated["n"], emulated["accuracy"], "mnd-c")
    assert [layer["op"] for layer in board["layers"]] == [layer["op"] for layer in emulated["layers"]]
    assert all("cycles" not in layer for layer in board["layers"])
    assert 0 < board["ram_parts"]["stack_peak"] and board["flash_bytes"] > board["flash_parts"]["model"] > 0
    assert "no cycles: the DWT cycle counter did not advance" in (run / "report.md").read_text()
    assert "mps2-an386 via probe" in result.stderr

    probe_elf, emulated_elf = run / CORE / "build-probe" / "firmware.elf", v2_export / CORE / "build" / "firmware.elf"
    layers = len(emulated["layers"])
    sizes = _io_sizes(run / CORE / "model.h")
    inputs = np.random.default_rng(0).integers(-128, 128, (3, sizes["input_bytes"]), dtype=np.int8).tobytes()
    on_probe = run_on_probe(CORE, BOARD, _firmware(probe_elf), Probe("127.0.0.1", port), tmp_path / "probe",
                            inputs, {"layers": layers, **sizes}, timeout_s=120)
    firmware = _firmware(emulated_elf)
    firmware = Firmware(**{**firmware.__dict__, "marker_address": marker_address(emulated_elf, CORE)})
    on_qemu = run_firmware(CORES[CORE], firmware, tmp_path / "qemu", inputs, timeout_s=120,
                           plugin=build_plugin(tmp_path / "plugin"))
    assert on_probe.outputs == on_qemu.outputs and len(on_qemu.outputs) == 3 * sizes["output_bytes"]
    assert on_probe.layer_cycles is None and on_probe.counter_absent == COUNTER_ABSENT[NOT_ADVANCING]


def _firmware(elf) -> Firmware:
    return Firmware(core=CORE, elf=elf, map_file=elf.with_suffix(".map"), sizes=Sizes())


def _io_sizes(model_h) -> dict:
    defines = dict(line.split()[1:3] for line in model_h.read_text().splitlines()
                   if line.startswith("#define MND_") and len(line.split()) == 3)
    return {"input_bytes": int(defines["MND_INPUT_BYTES"]), "output_bytes": int(defines["MND_OUTPUT_BYTES"])}


def test_an_unreachable_probe_is_one_line_before_any_work(v2_export, tmp_path):
    port = free_port()  # nothing listens there
    run = shutil.copytree(v2_export, tmp_path / "run")
    before = (run / "manifest.json").read_bytes()
    result = run_mnd("measure", run, "--board", BOARD, "--probe", f"gdb://127.0.0.1:{port}")
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(errors) == 1, result.stderr
    assert f"gdb://127.0.0.1:{port}: no GDB server answers there" in errors[0] and "openocd" in errors[0]
    assert (run / "manifest.json").read_bytes() == before
