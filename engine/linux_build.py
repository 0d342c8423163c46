"""The C engine as a Linux program, `mnd-c` (engine/linux/main.c): a static aarch64 executable for Raspberry Pi
and Android's adb shell by default, or a host build with cc="gcc", cpu=None. write_linux_project writes a folder
a user can rebuild with `make`; build_executable compiles one. The flag and text functions are pure."""
import os
import shutil
import subprocess
from pathlib import Path

from mnd.base.errors import MndError, TargetUnavailable
from mnd.base.process_group import run_group
from mnd.base.tempdirs import temporary_directory
from mnd.engine import KERNELS_DIR, PORTABLE_SOURCES
from mnd.engine.generator import GeneratedModel, generate

AARCH64_CC = "aarch64-linux-gnu-gcc"
DEFAULT_CPU = "cortex-a72"
PROGRAM = "mnd-c"
MAIN_C = Path(__file__).resolve().parent / "linux" / "main.c"
KERNELS = (*PORTABLE_SOURCES, "kernels.h")
SOURCES = ("main.c", "model.c", *PORTABLE_SOURCES)
COMMON_CFLAGS = ("-O3", "-std=c99", "-Wall")
# Static (no loader, no /bin/sh: it runs from /data/local/tmp under adb shell) and its segments aligned for
# kernels with 16 KiB pages (Android 15 devices, Raspberry Pi 5) as well as 4 KiB ones.
STATIC_LDFLAGS = ("-static", "-Wl,-z,max-page-size=16384")
AARCH64_FIX = "apt-get install gcc-aarch64-linux-gnu, or run 'make toolchain'"
LOG_LINES = 20


class LinuxBuildError(MndError):
    """Compiling or linking mnd-c failed; the message ends with the compiler's last lines."""


def cflags_for(cpu: str | None) -> tuple:
    """Compiler flags: -O3 -std=c99 -Wall, plus -mcpu=<cpu> when a CPU is named (None: the compiler's default)."""
    return (*COMMON_CFLAGS, *((f"-mcpu={cpu}",) if cpu else ()))


def ldflags_for(static: bool) -> tuple:
    return STATIC_LDFLAGS if static else ()


def _missing_compiler(cc: str) -> TargetUnavailable:
    fix = AARCH64_FIX if Path(cc).name == AARCH64_CC else f"install {cc} or pass another compiler"
    return TargetUnavailable(f"C compiler {cc} not found: {fix}")


def build_executable(project: Path, out: Path, *, cc: str = AARCH64_CC, cpu: str | None = DEFAULT_CPU,
                     static: bool = True, timeout: float = 300) -> Path:
    """Compile project/model.c (and model.h from generate()), the portable kernels (copied from KERNELS_DIR when
    missing) and engine/linux/main.c into the executable `out`. Raises TargetUnavailable when `cc` is not
    installed, LinuxBuildError when the compile fails or takes longer than `timeout` seconds."""
    if shutil.which(cc) is None:
        raise _missing_compiler(cc)
    project, out = Path(project), Path(out)
    missing = [name for name in ("model.c", "model.h") if not (project / name).is_file()]
    if missing:
        raise LinuxBuildError(f"{project} has no {' or '.join(missing)}: generate the model's C first")
    for name in KERNELS:
        if not (project / name).is_file():
            shutil.copy(KERNELS_DIR / name, project / name)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [cc, *cflags_for(cpu), "-I", str(project), str(MAIN_C),
               *(str(project / name) for name in SOURCES if name != "main.c"), "-o", str(out), *ldflags_for(static)]
    try:
        with temporary_directory(".cc-", dir=out.parent) as tmpdir:  # the compiler's temporary files, always removed
            result = run_group(command, env={**os.environ, "TMPDIR": str(tmpdir)}, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        raise LinuxBuildError(f"{cc} did not finish building {out.name} within {timeout:.0f} s") from None
    except OSError as error:
        raise LinuxBuildError(f"cannot run {cc}: {error}") from None
    if result.returncode != 0:
        log = "\n".join((result.stderr or result.stdout).strip().splitlines()[-LOG_LINES:])
        raise LinuxBuildError(f"{cc} failed to build {out.name} (exit {result.returncode}):\n{log}")
    return out


def makefile_text(heading: str, cpu: str = DEFAULT_CPU) -> str:
    """GNU make predefines CC (cc), so a plain `CC ?=` never applies: only that default is replaced."""
    return (f"# {heading}\n"
            f"# `make` builds {PROGRAM}, a static aarch64 executable (Raspberry Pi, Android adb shell).\n"
            f"# Host build: make CC=gcc CPU_FLAGS= LDFLAGS=\n\n"
            f"ifeq ($(origin CC),default)\nCC = {AARCH64_CC}\nendif\n"
            f"CPU ?= {cpu}\n"
            "CPU_FLAGS ?= -mcpu=$(CPU)\n"
            f"CFLAGS ?= {' '.join(COMMON_CFLAGS)} $(CPU_FLAGS)\n"
            f"LDFLAGS ?= {' '.join(STATIC_LDFLAGS)}\n"
            f"SOURCES = {' '.join(SOURCES)}\n\n"
            ".PHONY: all clean\n\n"
            f"all: {PROGRAM}\n\n"
            f"{PROGRAM}: $(SOURCES) model.h kernels.h Makefile\n"
            "\t$(CC) $(CPPFLAGS) $(CFLAGS) $(SOURCES) -o $@ $(LDFLAGS)\n\n"
            f"clean:\n\trm -f {PROGRAM}\n")


def tensor_text(what: str, tensor, count: int) -> list:
    """Shape and int8 quantization of the model's input or output, as the .tflite file records them."""
    shape = "x".join(str(int(side)) for side in tensor.shape) + (" (NHWC)" if len(tensor.shape) == 4 else "")
    lines = [f"{what}: shape {shape}, {tensor.dtype}, {count} bytes per sample"]
    if tensor.scale is None:
        return lines + ["  no quantization recorded in the model"]
    return lines + [f"  real = {tensor.scale!r} * (q - ({tensor.zero_point}))"]


def readme_text(generated: GeneratedModel, cpu: str = DEFAULT_CPU) -> str:
    return "\n".join([
        f"mnd C engine as a Linux program: {generated.source}",
        f"Generated by mnd from {generated.source} (sha256 {generated.sha256}).", "",
        f"Build: make  ->  {PROGRAM}, static, for aarch64 Linux (Raspberry Pi OS, Android), with",
        f"  CC = {AARCH64_CC}, CFLAGS = {' '.join(cflags_for(cpu))}, LDFLAGS = {' '.join(STATIC_LDFLAGS)}.",
        "  Another core: make CPU=cortex-a76. The host: make CC=gcc CPU_FLAGS= LDFLAGS=",
        "  Debian/Ubuntu: apt-get install gcc-aarch64-linux-gnu. `make clean` removes the program.", "",
        f"Run:  ./{PROGRAM} inputs.bin outputs.bin 10 100",
        "  Android: adb push mnd-c inputs.bin /data/local/tmp/ && adb shell 'cd /data/local/tmp && "
        "chmod 755 mnd-c && ./mnd-c inputs.bin outputs.bin 10 100'",
        f"  inputs.bin: N >= 1 samples back to back, {generated.input_bytes} int8 bytes each (row-major).",
        f"  outputs.bin: written with the N outputs, {generated.output_bytes} int8 bytes each, only on success.",
        "  Then 10 untimed and 100 timed runs (both optional, default 0) cycle through the samples. stdout: one",
        '  JSON object {"engine": "mnd-c", "samples", "input_bytes", "output_bytes", "arena_bytes", "warmup",',
        '  "runs", "latencies_ms": [one per timed run]}. Exit 2: usage or an inputs size that is not a',
        "  multiple of the sample size; 1: an I/O error.", "",
        *tensor_text("Input", generated.input, generated.input_bytes),
        "  to quantize: q = clamp(round(real / scale) + zero point, -128, 127)",
        *tensor_text("Output", generated.output, generated.output_bytes), "",
        f"Arena: {generated.arena_bytes} bytes (MND_ARENA_BYTES), one static array planned ahead of time; the",
        "  weights are const arrays. Single-threaded; the only heap holds the inputs, outputs and latencies.", ""])


def write_linux_project(int8_tflite: Path, project: Path, tflm_arena_bytes: int | None = None,
                        cpu: str = DEFAULT_CPU) -> GeneratedModel:
    """Generate model.c/.h from the int8 .tflite into `project` and add everything needed to rebuild mnd-c
    there: the portable kernels (KERNELS), main.c, a Makefile and a README.txt with the model's input/output contract."""
    int8_tflite, project = Path(int8_tflite), Path(project)
    generated = generate(int8_tflite.read_bytes(), project, int8_tflite.name, tflm_arena_bytes)
    for name in KERNELS:
        shutil.copy(KERNELS_DIR / name, project / name)
    shutil.copy(MAIN_C, project / "main.c")
    heading = f"Generated by mnd from {generated.source} (sha256 {generated.sha256}). Do not edit."
    (project / "Makefile").write_text(makefile_text(heading, cpu))
    (project / "README.txt").write_text(readme_text(generated, cpu))
    return generated
