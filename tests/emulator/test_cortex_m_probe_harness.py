"""The harness's probe build (MND_PROBE) on the stand-in 3-layer model of test_cortex_m_harness, through QEMU's
gdbstub on every core: outputs byte-exact against numpy, every layer marker recorded, a fault in the model named
from the state it leaves in RAM, a hang cut off by the time limit. QEMU has no DWT: no cycles, never zeros."""
import numpy as np
import pytest

from mnd.targets.board_output import BoardOutputError
from mnd.targets.cortex_m.cores import CORES, get_core
from mnd.targets.cortex_m.firmware import build_firmware
from mnd.targets.cortex_m.gdb_probe import Probe, ProbeRunError, run_on_probe
from mnd.targets.cortex_m.probe_state import COUNTER_ABSENT, NOT_ADVANCING
from mnd.targets.registry import get_target
from mnd.targets.toolchain import problem
from tests.conftest import skip_or_fail
from tests.emulator.test_cortex_m_harness import IN_BYTES, LAYERS, OUT_BYTES, reference, write_model
from tests.gdbstub import gdbstub

pytestmark = [pytest.mark.emulator, pytest.mark.probe]
EXPECTED = {"layers": LAYERS, "input_bytes": IN_BYTES, "output_bytes": OUT_BYTES}


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    missing = get_target("cortex-m4").check() or problem(("cortex-m-probe",))
    if missing:
        skip_or_fail(missing)


def probe_firmware(core, tmp_path, extra=""):
    model = write_model(tmp_path / "model", extra)
    return build_firmware(core, [model / "model.c"], [model], tmp_path / "fw", probe=True)


def run(core, firmware, tmp_path, inputs: bytes, timeout_s=30):
    with gdbstub(core.machine) as port:
        return run_on_probe(core.name, "stand-in", firmware, Probe("127.0.0.1", port), tmp_path / "run", inputs,
                            EXPECTED, timeout_s)


@pytest.mark.parametrize("core_name", sorted(CORES))
def test_the_probe_build_is_exact_and_names_the_absent_counter(core_name, tmp_path):
    core = get_core(core_name)
    samples = np.random.default_rng(7).integers(-128, 128, size=(3, IN_BYTES), dtype=np.int8)
    result = run(core, probe_firmware(core, tmp_path), tmp_path, samples.tobytes())
    assert result.outputs == reference(samples).tobytes()
    assert result.layer_cycles is None and result.counter_absent == COUNTER_ABSENT[NOT_ADVANCING]
    assert 0 < result.stack_at_invoke_bytes < result.stack_peak_bytes <= 4096


def test_a_fault_in_the_model_is_named_from_the_state_in_ram(tmp_path):
    core = get_core("cortex-m4")
    firmware = probe_firmware(core, tmp_path, "__builtin_trap();")
    with pytest.raises(BoardOutputError, match=r"stand-in: the harness's state after sample 0 reports a fault: "
                                               r"HardFault pc=0x[1-9a-f]"):
        run(core, firmware, tmp_path, bytes(IN_BYTES))


def test_a_hung_model_is_cut_off_by_the_time_limit(tmp_path):
    core = get_core("cortex-m4")
    firmware = probe_firmware(core, tmp_path, "for (;;) __asm__ volatile(\"\");")
    with pytest.raises(ProbeRunError, match=r"stand-in: gdb did not finish within 3 s .*never reached mnd_probe_done"):
        run(core, firmware, tmp_path, bytes(IN_BYTES), timeout_s=3)
