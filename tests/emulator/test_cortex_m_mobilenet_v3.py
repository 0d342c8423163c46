"""MobileNet V3-Small 0.75-96 int8 (ADD, broadcast MUL, HARD_SWISH, 5x5 depthwise) on the emulated Cortex-M4 with
the core's kernel set (DSP where a layer fits, portable elsewhere), bit-exact with LiteRT's reference kernels."""
import numpy as np
import pytest

from mnd.engine import KERNELS_DIR
from tests.emulator.kernel_pairs import require_toolchain
from tests.unit.mobilenets import build_int8, int8_inputs

pytestmark = pytest.mark.emulator


@pytest.mark.slow
def test_v3_small_runs_bit_exact_on_cortex_m4(tmp_path):
    import shutil

    from mnd.base.runtimes.sandbox import run_model
    from mnd.engine.generator import generate
    from mnd.targets.cortex_m.cores import CORES
    from mnd.targets.cortex_m.firmware import build_firmware
    from mnd.targets.cortex_m.project import SOURCES
    from mnd.targets.cortex_m.qemu import run_firmware

    require_toolchain()
    core = CORES["cortex-m4"]
    model = build_int8("v3s_075_96", tmp_path)
    project = tmp_path / "project"
    generated = generate(model.read_bytes(), project, model.name, kernels=core.kernels)
    for source in KERNELS_DIR.glob("kernels*"):
        shutil.copy(source, project / source.name)
    firmware = build_firmware(core, [project / name for name in SOURCES], [project], project / "build")
    inputs = int8_inputs(2)
    result = run_firmware(core, firmware, project / "run", inputs.tobytes(), timeout_s=600)
    ours = np.frombuffer(result.outputs, np.int8).reshape(len(inputs), -1)
    np.testing.assert_array_equal(ours, run_model("litert-ref", model, inputs).outputs.reshape(ours.shape))
    assert {"HARD_SWISH", "MUL", "ADD"} <= set(generated.layers)
