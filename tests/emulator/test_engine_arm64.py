"""mnd-c as shipped to a Raspberry Pi or an Android phone: the MLPerf Tiny VWW int8 model built static for aarch64
(Cortex-A72 and Cortex-A76), checked from its ELF header and run under qemu-aarch64-static on that core with no
root filesystem: outputs bit-exact with LiteRT's reference kernels on the host."""
import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mnd.base.runtimes.sandbox import run_model
from mnd.engine.linux_build import AARCH64_CC, build_executable, write_linux_project
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.emulator

QEMU = "qemu-aarch64-static"
VWW = Path("mlperf_vww") / "vww_96_int8.tflite"
SAMPLES = 20
EM_AARCH64, PT_DYNAMIC, PT_INTERP, PT_LOAD = 183, 2, 3, 1
PAGE_16K = 16384


def elf_facts(binary: Path) -> dict:
    """e_machine and the program headers' types and load alignments of a little-endian ELF64 file."""
    data = binary.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a little-endian ELF64 file"
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    headers = [struct.unpack_from("<I", data, phoff + k * phentsize)[0] for k in range(phnum)]
    aligns = [struct.unpack_from("<Q", data, phoff + k * phentsize + 48)[0] for k in range(phnum)]
    return {"machine": machine, "types": set(headers),
            "load_aligns": {align for kind, align in zip(headers, aligns) if kind == PT_LOAD}}


@pytest.fixture(scope="module")
def vww(assets, tmp_path_factory):
    """The VWW model, its generated project and SAMPLES random int8 inputs of its shape."""
    for tool in (AARCH64_CC, QEMU):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (apt-get install gcc-aarch64-linux-gnu qemu-user-static)")
    model = assets / VWW
    if not model.is_file():
        skip_or_fail(f"{model} is missing")
    project = tmp_path_factory.mktemp("vww") / "project"
    generated = write_linux_project(model, project)
    shape = (SAMPLES, *generated.input.shape[1:])
    inputs = np.random.default_rng(0).integers(-128, 128, shape).astype(np.int8)
    return model, project, generated, inputs


@pytest.mark.parametrize("cpu", ["cortex-a72", "cortex-a76"])
def test_static_aarch64_build_runs_bit_exact_under_qemu(vww, tmp_path, cpu):
    model, project, generated, inputs = vww
    binary = build_executable(project, tmp_path / f"mnd-c-{cpu}", cpu=cpu)
    facts = elf_facts(binary)
    assert facts["machine"] == EM_AARCH64
    assert PT_INTERP not in facts["types"] and PT_DYNAMIC not in facts["types"], "not statically linked"
    assert facts["load_aligns"] and min(facts["load_aligns"]) >= PAGE_16K, "not loadable with 16 KiB pages"

    (tmp_path / "in.bin").write_bytes(inputs.tobytes())
    result = subprocess.run([QEMU, "-cpu", cpu, str(binary), str(tmp_path / "in.bin"), str(tmp_path / "out.bin"),
                             "1", "3"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["samples"], report["runs"], len(report["latencies_ms"])) == (SAMPLES, 3, 3)
    assert report["arena_bytes"] == generated.arena_bytes and report["input_bytes"] == inputs[0].size

    ours = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(SAMPLES, -1)
    reference = run_model("litert-ref", model, inputs).outputs.reshape(SAMPLES, -1)
    np.testing.assert_array_equal(ours, reference)
    assert len({row.tobytes() for row in ours}) > 1  # the comparison can tell samples apart
