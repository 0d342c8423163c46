"""The Cortex-M harness under QEMU: a stand-in 3-layer int8 model on every core, checked against numpy,
with deterministic per-layer instruction counts, stack and size reports, and clear errors for crashes and hangs."""
import shutil

import numpy as np
import pytest

from mnd.base.errors import MndError, UsageError
from mnd.targets.cortex_m.cores import CORES, get_core
from mnd.targets.cortex_m.firmware import FirmwareBuildError, build_firmware, build_plugin
from mnd.targets.cortex_m.qemu import FirmwareCrashed, FirmwareRunError, FirmwareTimeout, run_firmware
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.emulator

TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm", "qemu-system-arm", "gcc")
TAPS = [3, -1, 4, -1, 5, -9, 2, 6, -5, 3, 5, -8, 9, -7, 9, 3]
IN_BYTES, OUT_BYTES, LAYERS = 64, 16, 3
TIMEOUT_S = 30

MODEL_H = f"""\
#include <stdint.h>
#define MND_INPUT_BYTES {IN_BYTES}
#define MND_OUTPUT_BYTES {OUT_BYTES}
#define MND_LAYERS {LAYERS}
void mnd_model_invoke(const int8_t* input, int8_t* output);
"""

# Layer 0: elementwise; layer 1: a 16-tap circular filter (16x the work); layer 2: sum of 4 -> 16 outputs.
# LAYER1_EXTRA lets a variant crash or hang inside the model.
MODEL_C = """\
#include "model.h"
#include "mnd_harness.h"

static const int8_t taps[16] = {%s};
static int8_t a[64], b[64];

static int8_t sat(int32_t v) { return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v); }

void mnd_model_invoke(const int8_t* in, int8_t* out)
{
    mnd_marker();
    for (int i = 0; i < 64; i++) a[i] = sat(in[i] * 3 + 7);
    mnd_marker();
    LAYER1_EXTRA
    for (int i = 0; i < 64; i++) {
        int32_t acc = 0;
        for (int k = 0; k < 16; k++) acc += taps[k] * a[(i + k) & 63];
        b[i] = sat(acc >> 4);
    }
    mnd_marker();
    for (int j = 0; j < 16; j++) out[j] = sat((b[4 * j] + b[4 * j + 1] + b[4 * j + 2] + b[4 * j + 3]) >> 1);
    mnd_marker();
}
""" % ", ".join(map(str, TAPS))


def reference(inputs: np.ndarray) -> np.ndarray:
    x = inputs.astype(np.int32)
    a = np.clip(x * 3 + 7, -128, 127)
    b = np.zeros_like(a)
    for k, tap in enumerate(TAPS):
        b += tap * np.roll(a, -k, axis=1)
    b = np.clip(b >> 4, -128, 127)
    out = np.clip(b.reshape(len(x), OUT_BYTES, 4).sum(axis=2) >> 1, -128, 127)
    return out.astype(np.int8)


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not found (run 'make toolchain')")


def write_model(directory, layer1_extra=""):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.h").write_text(MODEL_H)
    (directory / "model.c").write_text(MODEL_C.replace("LAYER1_EXTRA", layer1_extra))
    return directory


def build(core, directory, out):
    return build_firmware(core, [directory / "model.c"], [directory], out)


@pytest.fixture(scope="module")
def samples():
    return np.random.default_rng(7).integers(-128, 128, size=(3, IN_BYTES), dtype=np.int8)


@pytest.fixture(scope="module", params=sorted(CORES))
def runs(request, tmp_path_factory, samples):
    """Build the stand-in for one core and run it twice on the same 3 samples."""
    core = get_core(request.param)
    root = tmp_path_factory.mktemp(request.param)
    firmware = build(core, write_model(root / "model"), root / "fw")
    first = run_firmware(core, firmware, root / "run1", samples.tobytes(), TIMEOUT_S)
    second = run_firmware(core, firmware, root / "run2", samples.tobytes(), TIMEOUT_S)
    return core, firmware, first, second


def test_outputs_are_byte_exact_against_numpy(runs, samples):
    _, _, first, _ = runs
    assert first.samples == 3 and first.layers == LAYERS
    assert first.outputs == reference(samples).tobytes()


def test_instruction_counts_are_deterministic(runs):
    _, _, first, second = runs
    assert first.segments == second.segments
    assert first.total_instructions == second.total_instructions
    assert first.marker_counts == second.marker_counts
    assert first.outputs == second.outputs


def test_cycle_estimates_are_deterministic_and_never_below_the_count_on_single_issue_cores(runs):
    core, _, first, second = runs
    assert first.marker_cycles == second.marker_cycles and first.total_cycles == second.total_cycles
    assert [sum(layers) for layers in first.per_sample_cycles()] == first.inference_cycles()
    assert all(cycles > 0 for layers in first.per_sample_cycles() for cycles in layers)
    if core.name in ("cortex-m4", "cortex-m33"):  # single issue: every instruction costs at least a cycle
        assert all(c >= i for c, i in zip(sum(first.per_sample_cycles(), []), first.segments))
        assert all(c > i for c, i in zip(first.inference_cycles(), first.inference_instructions()))


def test_layer_segments_add_up_to_the_inference(runs):
    _, _, first, _ = runs
    per_sample = first.per_sample()
    assert len(per_sample) == 3 and all(len(layers) == LAYERS for layers in per_sample)
    assert [sum(layers) for layers in per_sample] == first.inference_instructions()
    assert sum(first.inference_instructions()) < first.total_instructions
    assert all(count > 0 for count in first.segments)


def test_heavier_layer_counts_more_instructions(runs):
    _, _, first, _ = runs
    for light, heavy, tail in first.per_sample():
        assert heavy > 4 * light and heavy > 4 * tail
        assert 64 * 16 <= heavy <= 64 * 16 * 20  # 1024 multiply-accumulates, at most 20 instructions each


def test_stack_peak_and_sizes_are_reported(runs):
    _, firmware, first, _ = runs
    assert 0 < first.stack_at_invoke_bytes < first.stack_peak_bytes <= 4096
    assert firmware.sizes.text > 0 and firmware.sizes.rodata > 0 and firmware.sizes.bss > 0
    model, harness = firmware.parts["model"], firmware.parts["harness"]
    assert model.rodata >= len(TAPS) and model.bss >= 2 * 64 and model.text > 0
    assert harness.text > 0
    assert sum(part.text for part in firmware.parts.values()) <= firmware.sizes.text
    assert firmware.elf.is_file() and firmware.marker_address > 0


def test_the_same_elf_runs_any_number_of_samples(runs, tmp_path):
    core, firmware, _, _ = runs
    more = np.random.default_rng(11).integers(-128, 128, size=(5, IN_BYTES), dtype=np.int8)
    result = run_firmware(core, firmware, tmp_path, more.tobytes(), TIMEOUT_S)
    assert result.samples == 5 and len(result.segments) == 5 * LAYERS
    assert result.outputs == reference(more).tobytes()


@pytest.mark.parametrize("core_name", sorted(CORES))
def test_a_fault_in_the_model_is_a_clear_error(core_name, tmp_path):
    core = get_core(core_name)
    firmware = build(core, write_model(tmp_path / "model", "__builtin_trap();"), tmp_path / "fw")
    with pytest.raises(FirmwareCrashed, match=r"crashed — mnd-fault: \w+.* pc=0x") as caught:
        run_firmware(core, firmware, tmp_path / "run", bytes(IN_BYTES), TIMEOUT_S)
    assert core_name in str(caught.value)


@pytest.mark.parametrize("core_name", sorted(CORES))
def test_a_stack_overflow_is_named(core_name, tmp_path):
    """64 KiB of stack, 70 000 bytes of locals: ARMv8-M's MSPLIM or ARMv7-M's MPU guard catches it."""
    core = get_core(core_name)
    overflow = "{ volatile char big[70000]; big[0] = 1; big[69999] = 2; }"
    firmware = build(core, write_model(tmp_path / "model", overflow), tmp_path / "fw")
    with pytest.raises(FirmwareCrashed, match="stack overflow"):
        run_firmware(core, firmware, tmp_path / "run", bytes(IN_BYTES), TIMEOUT_S)


def test_a_hung_program_times_out_with_its_output(tmp_path):
    core = get_core("cortex-m4")
    hang = "for (;;) __asm__ volatile(\"\");"
    firmware = build(core, write_model(tmp_path / "model", hang), tmp_path / "fw")
    with pytest.raises(FirmwareTimeout, match=r"cortex-m4: the program did not finish within 2 s"):
        run_firmware(core, firmware, tmp_path / "run", bytes(IN_BYTES), 2)


def test_a_partial_sample_is_refused_by_the_harness(tmp_path):
    core = get_core("cortex-m33")
    firmware = build(core, write_model(tmp_path / "model"), tmp_path / "fw")
    with pytest.raises(FirmwareRunError, match="not a whole number of samples"):
        run_firmware(core, firmware, tmp_path / "run", bytes(IN_BYTES + 1), TIMEOUT_S)


def test_a_compile_error_quotes_the_first_error_and_leaves_nothing(tmp_path):
    model = write_model(tmp_path / "model")
    (model / "model.c").write_text('#include "model.h"\nvoid mnd_model_invoke(const int8_t* i, int8_t* o) { x = 1; }\n')
    with pytest.raises(FirmwareBuildError, match=r"cortex-m7: compiling model.c failed: .*model.c:2:.*error: 'x'"):
        build(get_core("cortex-m7"), model, tmp_path / "fw")
    assert not (tmp_path / "fw").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_unknown_core_suggests_the_closest(tmp_path):
    with pytest.raises(UsageError, match="did you mean 'cortex-m4'"):
        get_core("cortex-m44")
    assert issubclass(FirmwareRunError, MndError)


def test_plugin_is_cached_by_source_hash(tmp_path):
    first = build_plugin(tmp_path)
    stamp = first.stat().st_mtime_ns
    assert build_plugin(tmp_path) == first and first.stat().st_mtime_ns == stamp
    assert first.name.startswith("mnd_count-") and first.suffix == ".so"
