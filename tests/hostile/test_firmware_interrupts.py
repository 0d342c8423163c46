"""SIGINT, SIGTERM or SIGHUP while the Cortex-M firmware is being compiled: when mnd has exited, no compiler
process is left running and none of its temporary files (or the build's staging folder) is left anywhere."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnd.base.process_group import members, run_group
from tests.conftest import MND, skip_or_fail

pytestmark = [pytest.mark.slow, pytest.mark.emulator]  # arm-none-eabi-gcc
SIGNALS = [pytest.param(signum, 128 + signum, id=signum.name)
           for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]

# A model that keeps cc1 busy for a while, so the signal lands in the middle of a compile.
SLOW_MODEL_C = '#include "model.h"\nvolatile int sink;\n' + "".join(
    f"void f{i}(int x) {{ for (int k = 0; k < x; k++) sink += (k * {i}) ^ (sink >> {i % 7 + 1}); }}\n"
    for i in range(3000)) + "void mnd_model_invoke(const int8_t* in, int8_t* out) { out[0] = in[0]; }\n"
MODEL_H = ("#include <stdint.h>\n#define MND_INPUT_BYTES 1\n#define MND_OUTPUT_BYTES 1\n#define MND_LAYERS 0\n"
           "void mnd_model_invoke(const int8_t* input, int8_t* output);\n")
BUILD = """
import sys
from pathlib import Path
from mnd.base import interrupts
from mnd.targets.cortex_m.cores import get_core
from mnd.targets.cortex_m.firmware import build_firmware
interrupts.install()
model = Path(sys.argv[1])
try:
    build_firmware(get_core("cortex-m4"), [model / "model.c"], [model], model.parent / "fw")
except KeyboardInterrupt:
    sys.exit(interrupts.exit_code())
"""


@pytest.fixture(autouse=True)
def toolchain():
    if shutil.which("arm-none-eabi-gcc") is None:
        skip_or_fail("arm-none-eabi-gcc not found (run 'make toolchain')")


def running(marker: str) -> list:
    """Command lines of live (not zombie) processes that mention `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if state != "Z" and marker in command and entry.name != str(os.getpid()):
            found.append(command)
    return found


def signal_when(process, condition, signum, timeout=300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline, "the build ended before the signal"
        time.sleep(0.01)
    process.send_signal(signum)


@pytest.mark.parametrize("signum, code", SIGNALS)
def test_a_signal_mid_compile_leaves_no_compiler_and_no_temporary_file(tmp_path, signum, code):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.h").write_text(MODEL_H)
    (model / "model.c").write_text(SLOW_MODEL_C)
    process = subprocess.Popen([sys.executable, "-c", BUILD, str(model)], stderr=subprocess.PIPE, text=True)
    signal_when(process, lambda: any(tmp_path.glob(".fw-*/tmp/*")), signum)  # gcc's temporary file exists
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr[-2000:]
    assert running(str(tmp_path)) == []
    assert [path.name for path in tmp_path.iterdir()] == ["model"]


def test_a_time_limit_kills_the_whole_group(tmp_path):
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_group(["sh", "-c", f"sleep 60 & echo $$ > {tmp_path}/group; wait"], timeout=1)
    assert time.monotonic() - started < 30
    assert members(int((tmp_path / "group").read_text())) == []


def test_sighup_during_a_cortex_m_export_leaves_nothing(tmp_path):
    """Through the CLI: a one-variant cost-only sweep whose export is interrupted in the firmware build."""
    out, temporary = tmp_path / "sweep", tmp_path / "tmp"
    temporary.mkdir()
    process = subprocess.Popen([str(MND), "sweep", "--target", "cortex-m4", "--cost-only", "--alpha", "0.25",
                                "--resolution", "32", "--classes", "2", "--channels", "1", "--out", str(out)],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, "TMPDIR": str(temporary)})
    signal_when(process, lambda: any(out.glob("**/.build-*/tmp/*")), signal.SIGHUP)
    _, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr and process.returncode == 129, stderr[-2000:]
    assert [line for line in stderr.splitlines() if ": error:" in line] == ["mnd: error: interrupted by SIGHUP"]
    assert running(str(tmp_path)) == []
    assert [path.name for path in tmp_path.iterdir()] == ["tmp"] and list(temporary.iterdir()) == []
