"""Run a firmware ELF under qemu-system-arm with the instruction-counting plugin, always with a timeout.

QEMU gives instruction counts, not cycles (the DWT cycle counter reads 0 there); figures from here are emulated.
The plugin also estimates cycles from the core's published instruction timings (plugin/cycle_model.c): an
estimate beside the exact instruction counts, never a measurement.
"""
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnd.base.errors import MndError
from mnd.base.process_group import run_group
from mnd.base.progress import phase
from mnd.targets.cortex_m.cores import Core
from mnd.targets.cortex_m.firmware import Firmware, build_plugin, find_tool

_TAIL = 2000  # characters of program output quoted in an error
REPORT_KEYS = ("samples", "layers", "output_bytes", "stack_peak", "stack_size", "stack_at_invoke")


class FirmwareRunError(MndError):
    """The firmware did not run to a clean end; the message quotes its output."""

    def __init__(self, message: str, stdout: str = ""):
        super().__init__(message)
        self.stdout = stdout


class FirmwareTimeout(FirmwareRunError):
    """The program did not finish within the time limit (hung, or far slower than expected)."""


class FirmwareCrashed(FirmwareRunError):
    """The program faulted (HardFault and friends) or locked up the emulated core."""


@dataclass(frozen=True)
class RunResult:
    outputs: bytes               # every sample's output, concatenated
    segments: list               # instructions per layer, sample by sample: samples x layers, flattened
    total_instructions: int      # the whole program: startup, file I/O, every sample
    stack_peak_bytes: int        # deepest stack use of the whole run (painted-stack measurement)
    stdout: str
    samples: int = 0
    layers: int = 0
    marker_counts: tuple = ()    # running instruction count at each mnd_marker hit
    stack_at_invoke_bytes: int = 0  # stack the harness itself holds when it calls the model
    marker_cycles: tuple = ()    # running cycle estimate at each mnd_marker hit (plugin/cycle_model.c)
    total_cycles: int = 0        # the cycle estimate of the whole program

    def per_sample(self) -> list:
        """[[layer instructions] per sample]."""
        return [self.segments[s * self.layers:(s + 1) * self.layers] for s in range(self.samples)]

    def inference_instructions(self) -> list:
        """Instructions from the first marker to the last, per sample."""
        return _inference(self.marker_counts, self.samples, self.layers)

    def per_sample_cycles(self) -> list:
        """[[layer estimated cycles] per sample]."""
        return _per_sample(self.marker_cycles, self.samples, self.layers)

    def inference_cycles(self) -> list:
        """Estimated cycles from the first marker to the last, per sample."""
        return _inference(self.marker_cycles, self.samples, self.layers)

    def layer_rows(self, ops, macs) -> list:
        """A Measurement's layers: index, op and MACs (one each per layer) with the instructions and estimated
        cycles, both the mean over the samples."""
        counts = np.asarray(self.per_sample(), dtype=np.int64).mean(axis=0)
        cycles = np.asarray(self.per_sample_cycles(), dtype=np.int64).mean(axis=0)
        return [{"index": i, "op": op, "macs": layer_macs, "instructions": int(round(count)),
                 "cycles_estimated": int(round(estimate))}
                for i, (op, layer_macs, count, estimate) in enumerate(zip(ops, macs, counts, cycles))]

    def per_inference(self) -> dict:
        """A Measurement's instructions and cycles_estimated: the means over the samples."""
        return {"instructions": int(round(float(np.mean(self.inference_instructions())))),
                "cycles_estimated": int(round(float(np.mean(self.inference_cycles()))))}


def _per_sample(marks: tuple, samples: int, layers: int) -> list:
    step = layers + 1
    return [[marks[s * step + l + 1] - marks[s * step + l] for l in range(layers)] for s in range(samples)]


def _inference(marks: tuple, samples: int, layers: int) -> list:
    step = layers + 1
    return [marks[s * step + layers] - marks[s * step] for s in range(samples)]


def qemu_command(core: Core, firmware: Firmware, plugin: Path, counts: Path, flash_wait_states: int = 0) -> list:
    """Absolute paths throughout: QEMU runs in the work directory, not where the caller's relative paths start.
    The cycle estimate charges `flash_wait_states` per 32-bit word fetched from the core's code region."""
    plugin, counts = Path(plugin).resolve(), Path(counts).resolve()
    plugin_arg = (f"{_escape(plugin)},marker={firmware.marker_address:#x},out={_escape(counts)},core={core.name},"
                  f"flash={core.code.base:#x}:{core.code.end:#x},wait_states={int(flash_wait_states)}")
    return [find_tool("qemu-system-arm", core.name), "-machine", core.machine, "-nographic", "-monitor", "none",
            "-serial", "none", "-semihosting-config", "enable=on,target=native",
            "-kernel", str(Path(firmware.elf).resolve()), "-plugin", plugin_arg]


def run_firmware(core: Core, firmware: Firmware, workdir: Path, inputs: bytes, timeout_s: float,
                 plugin: Path = None, flash_wait_states: int = 0) -> RunResult:
    """Run `firmware` on `inputs` (whole samples, concatenated) in workdir; raise FirmwareRunError unless clean."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    plugin = plugin or build_plugin(firmware.elf.parent)
    counts, outputs = workdir / "counts.txt", workdir / "outputs.bin"
    for stale in (counts, outputs):
        stale.unlink(missing_ok=True)
    (workdir / "inputs.bin").write_bytes(inputs)
    command = qemu_command(core, firmware, plugin, counts, flash_wait_states)
    try:
        with phase(f"{core.name} under QEMU ({core.machine}): {firmware.elf.name}"):
            done = run_group(command, cwd=workdir, timeout=timeout_s)
    except subprocess.TimeoutExpired as expired:
        text = _text(expired.stdout) + _text(expired.stderr)
        raise FirmwareTimeout(f"{core.name}: the program did not finish within {timeout_s:g} s (hung?); "
                              f"output so far: {_tail(text)}", text) from None
    text = _text(done.stdout) + _text(done.stderr)
    _check_exit(core, done.returncode, text)
    report = _parse_report(core, text)
    counted = _parse_counts(core, counts, text)
    return _result(core, report, counted, outputs, text)


def _check_exit(core: Core, returncode: int, text: str) -> None:
    fault = re.search(r"mnd-fault: .*", text)
    if fault:
        raise FirmwareCrashed(f"{core.name}: the program crashed — {fault.group(0)}", text)
    if "Lockup" in text or returncode < 0 or returncode == 134:
        raise FirmwareCrashed(f"{core.name}: the emulated core locked up (a fault with no usable stack); "
                              f"output: {_tail(text)}", text)
    error = re.search(r"mnd-error: .*", text)
    if returncode != 0 or error:
        what = error.group(0) if error else f"exit code {returncode}"
        raise FirmwareRunError(f"{core.name}: the program failed — {what}; output: {_tail(text)}", text)


def _parse_report(core: Core, text: str) -> dict:
    line = re.search(r"mnd-report((?: \w+=\d+)+)", text)
    if not line:
        raise FirmwareRunError(f"{core.name}: the program ended without its report line; output: {_tail(text)}",
                               text)
    report = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}
    missing = [key for key in REPORT_KEYS if key not in report]
    if missing:
        raise FirmwareRunError(f"{core.name}: the program's report line lacks {', '.join(missing)}: not mnd's "
                               f"harness; output: {_tail(text)}", text)
    return report


def _parse_counts(core: Core, counts: Path, text: str) -> tuple:
    if not counts.is_file():
        raise FirmwareRunError(f"{core.name}: the counting plugin wrote no {counts.name} (did QEMU load it?); "
                               f"output: {_tail(text)}", text)
    counted = {"marker": [], "cycles": [], "total": None, "cycles_total": None}
    for line in counts.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key in counted and not (value.isascii() and value.isdigit()):
            raise FirmwareRunError(f"{core.name}: the counting plugin wrote {line[:80]!r}, not a count", text)
        if key in ("marker", "cycles"):
            counted[key].append(int(value))
        elif key in ("total", "cycles_total"):
            counted[key] = int(value)
        elif key == "error":
            raise FirmwareRunError(f"{core.name}: the counting plugin failed: {value}", text)
    if counted["total"] is None or counted["cycles_total"] is None:
        raise FirmwareRunError(f"{core.name}: {counts} has no total or cycles_total line", text)
    if len(counted["cycles"]) != len(counted["marker"]):
        raise FirmwareRunError(f"{core.name}: {counts} has {len(counted['cycles'])} cycle estimates for "
                               f"{len(counted['marker'])} markers", text)
    return counted


def _result(core: Core, report: dict, counted: dict, outputs: Path, text: str) -> RunResult:
    marks, total = counted["marker"], counted["total"]
    samples, layers = report["samples"], report["layers"]
    if len(marks) != samples * (layers + 1):
        raise FirmwareRunError(
            f"{core.name}: the model called mnd_marker {len(marks)} times for {samples} samples; expected "
            f"{samples * (layers + 1)} (once before each of its {layers} layers and once after the last)", text)
    if report["stack_peak"] >= report["stack_size"]:
        raise FirmwareRunError(f"{core.name}: stack overflow — the program used all {report['stack_size']} bytes "
                               f"of its stack; build the firmware with a larger stack_bytes", text)
    segments = [count for sample in _per_sample(marks, samples, layers) for count in sample]
    data = outputs.read_bytes() if outputs.is_file() else b""
    if len(data) != samples * report["output_bytes"]:
        raise FirmwareRunError(f"{core.name}: outputs.bin holds {len(data)} bytes; expected {samples} x "
                               f"{report['output_bytes']}", text)
    return RunResult(outputs=data, segments=segments, total_instructions=total,
                     stack_peak_bytes=report["stack_peak"], stdout=text, samples=samples, layers=layers,
                     marker_counts=tuple(marks), stack_at_invoke_bytes=report["stack_at_invoke"],
                     marker_cycles=tuple(counted["cycles"]), total_cycles=counted["cycles_total"])


def _escape(path: Path) -> str:
    return os.fspath(path).replace(",", ",,")  # QEMU option syntax: a literal comma is doubled


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _tail(text: str) -> str:
    text = text.strip()
    if not text:
        return "(none)"
    return text if len(text) <= _TAIL else "…" + text[-_TAIL:]
