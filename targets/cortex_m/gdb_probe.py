"""A Cortex-M board behind any GDB server (OpenOCD, pyOCD, J-Link's, QEMU's gdbstub), driven by gdb-multiarch in
batch mode: connect, `load` the probe build of the firmware (harness/probe.c), start it at its reset handler, then
for each sample write the input into RAM (`restore`), run to the breakpoint at mnd_probe_done and read the output,
the layer markers' CYCCNT values and the harness's state back (`append ... memory`). Nothing depends on semihosting
or on where the probe sends its output."""
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mnd.base.errors import MndError, UsageError
from mnd.base.process_group import run_group
from mnd.base.progress import phase
from mnd.targets.cortex_m.firmware import Firmware, FirmwareBuildError, _run_tool, find_tool
from mnd.targets.cortex_m.probe_state import STATE_BYTES, ProbeRun, probe_run
from mnd.targets.toolchain import problem

GDB = "gdb-multiarch"
SCHEME = "gdb://"
CONNECT_TIMEOUT_S = 5
PROBE_SYMBOLS = ("Reset_Handler", "mnd_probe_done", "mnd_probe_input", "mnd_probe_output", "mnd_probe_cycles",
                 "mnd_probe_state")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_TAIL = 1500
# xPSR's T bit, which a core reset from an empty vector table (QEMU started with no program) lacks: without it the
# core runs no Thumb code at all. Servers name the register differently (QEMU xpsr, OpenOCD xPSR), and gdb's $ps
# alias is not there for M-profile targets, so gdb's Python finds it.
THUMB_BIT = ("python",
             "names = {r.name for r in gdb.selected_frame().architecture().registers()}",
             "xpsr = next((n for n in ('xpsr', 'xPSR', 'XPSR') if n in names), None)",
             "if xpsr is None: raise gdb.GdbError('the GDB server shows no xPSR register: not a Cortex-M core?')",
             "gdb.execute(f'set ${xpsr} = ${xpsr} | 0x01000000')",
             "end")
FILES = ("outputs.bin", "cycles.bin", "states.bin")


class ProbeRunError(MndError):
    """gdb could not run the firmware on the board to the end; the message quotes gdb."""


@dataclass(frozen=True)
class Probe:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.host}:{self.port}"


def parse_probe(text: str) -> Probe:
    """`gdb://HOST:PORT`, the address of a GDB server; UsageError, one line, for anything else."""
    usage = (f"--probe {text!r}: expected gdb://HOST:PORT, the GDB server of the board's probe (OpenOCD listens on "
             "3333, pyOCD on 3333, J-Link's JLinkGDBServer on 2331)")
    if not text.startswith(SCHEME):
        raise UsageError(usage)
    host, colon, port = text[len(SCHEME):].rpartition(":")
    if not colon or not _HOST.fullmatch(host) or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise UsageError(usage)
    return Probe(host, int(port))


def parse_reset(text: str) -> str:
    """--probe-reset: one gdb `monitor` command, which gdb passes to the GDB server as it is; UsageError else."""
    command = " ".join(text.split())
    if not command.startswith("monitor ") or not command.isprintable() or "\n" in text:
        raise UsageError(f"--probe-reset {text!r}: expected one gdb monitor command, as the board's GDB server "
                         "spells its reset-and-halt (OpenOCD and pyOCD: 'monitor reset halt'; J-Link: 'monitor "
                         "reset')")
    return command


def check_probe(text: str) -> str | None:
    """None when gdb-multiarch is here and something listens at the probe's address, else one line with the fix."""
    missing = problem(("cortex-m-probe",))
    if missing:
        return f"--probe: {missing}"
    probe = parse_probe(text)
    try:
        socket.create_connection((probe.host, probe.port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        return (f"--probe {probe.url}: no GDB server answers there ({error.strerror or error}); start one attached "
                "to the board (e.g. openocd -f board/st_nucleo_l4.cfg, pyocd gdbserver, JLinkGDBServer -device "
                "...) and give its host and port")
    return None


def probe_symbols(elf: Path, core: str) -> dict:
    """{name: (address, size)} of the probe harness's symbols (Thumb bit cleared)."""
    out = _run_tool([find_tool("arm-none-eabi-nm", core), "-S", str(elf)], None, f"{core}: reading symbols")
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in PROBE_SYMBOLS:
            found[parts[3]] = (int(parts[0], 16) & ~1, int(parts[1], 16))
    missing = [name for name in PROBE_SYMBOLS if name not in found]
    if missing:
        raise FirmwareBuildError(f"{core}: {', '.join(missing)} missing from {elf.name}: not the probe build of the "
                                 "harness")
    return found


def gdb_script(probe: Probe, symbols: dict, samples: int, reset: str | None = None) -> str:
    """The batch script, run in the folder holding input-N.bin; it appends to the FILES there. gdb stops at the
    first command that fails, so a sample never runs on a half-written input. `reset` (--probe-reset), the GDB
    server's reset-and-halt, runs before `load`."""
    address = {name: value[0] for name, value in symbols.items()}

    def read(name: str, file: str) -> str:
        start, size = symbols[name]
        return f"append binary memory {file} {start:#x} {start + size:#x}"

    lines = ["set pagination off", "set confirm off", "set width 0", "set remotetimeout 30",
             f"target extended-remote {probe.host}:{probe.port}", *([reset] if reset else []), "load",
             f"set $pc = {address['Reset_Handler']:#x}", *THUMB_BIT,
             f"hbreak *{address['mnd_probe_done']:#x}", "continue"]
    for index in range(samples):
        lines += [f"restore input-{index}.bin binary {address['mnd_probe_input']:#x}", "continue",
                  read("mnd_probe_output", FILES[0]), read("mnd_probe_cycles", FILES[1]),
                  read("mnd_probe_state", FILES[2])]
    return "\n".join([*lines, "delete", "detach", ""])


def run_on_probe(core: str, board: str, firmware: Firmware, probe: Probe, workdir: Path, inputs: bytes,
                 expected: dict, timeout_s: float, reset: str | None = None) -> ProbeRun:
    """Run the probe build `firmware` on every sample of `inputs` (whole samples of expected["input_bytes"]);
    `reset`: gdb_script's."""
    symbols = probe_symbols(firmware.elf, core)
    sizes = {"mnd_probe_state": STATE_BYTES, "mnd_probe_input": expected["input_bytes"],
             "mnd_probe_output": expected["output_bytes"], "mnd_probe_cycles": 4 * (expected["layers"] + 1)}
    for name, size in sizes.items():
        if symbols[name][1] != size:
            raise ProbeRunError(f"{core}: {name} has {symbols[name][1]} bytes in {firmware.elf}, not {size}: not the "
                                "probe build of this model")
    size = expected["input_bytes"]
    samples = len(inputs) // size
    workdir.mkdir(parents=True, exist_ok=True)
    for index in range(samples):
        (workdir / f"input-{index}.bin").write_bytes(inputs[index * size:(index + 1) * size])
    for name in FILES:
        (workdir / name).unlink(missing_ok=True)
    (workdir / "probe.gdb").write_text(gdb_script(probe, symbols, samples, reset))
    command = [find_tool(GDB, core), "-batch", "-nx", "-x", "probe.gdb", str(Path(firmware.elf).resolve())]
    try:
        with phase(f"{board} through {probe.url}: {samples} samples"):
            done = run_group(command, cwd=workdir, timeout=timeout_s, text=True)
    except subprocess.TimeoutExpired as expired:
        raise ProbeRunError(f"{board}: gdb did not finish within {timeout_s:g} s (the board never reached "
                            f"mnd_probe_done: a hang, or an ELF linked for another memory map); gdb: "
                            f"{_tail(_text(expired.stdout) + _text(expired.stderr))}") from None
    log = done.stdout + done.stderr
    if done.returncode != 0 or not all((workdir / name).is_file() for name in FILES):
        raise ProbeRunError(f"{board}: gdb through {probe.url} failed (exit code {done.returncode}): {_tail(log)}")
    data = [(workdir / name).read_bytes() for name in FILES]
    return probe_run(*data, board, samples, expected)


def _text(data) -> str:
    return "" if data is None else data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    text = " | ".join(lines)
    return text if len(text) <= _TAIL else "…" + text[-_TAIL:]
