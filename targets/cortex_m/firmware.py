"""Build a Cortex-M firmware ELF (our harness + a model's C sources) and the instruction-counting QEMU plugin.

The harness (targets/cortex_m/harness/) is startup, semihosting, stack measurement and main; the model brings
model.h and its sources (see harness/main.c for the contract), all compiled with MND_PROFILE defined, which
turns a generated model's layer markers into calls of mnd_marker (harness/mnd_harness.h). Sizes come from
`arm-none-eabi-size -A` for the whole ELF and from the linker map for the split into model / harness / runtime
(libgcc, libc) parts.
"""
import hashlib
import os
import re
import shutil
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mnd.base import interrupts
from mnd.base.errors import MndError, TargetUnavailable
from mnd.base.process_group import run_group
from mnd.base.tempdirs import temporary_directory
from mnd.targets.cortex_m.cores import Core, MemoryMap
from mnd.targets.toolchain import install_hint

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness"
PLUGIN = HERE / "plugin"
PLUGIN_SOURCES = ("mnd_count.c", "thumb_decode.c", "cycle_model.c")  # compiled together
PLUGIN_HEADERS = ("thumb_decode.h", "cycle_model.h")
HARNESS_SOURCES = ("startup.S", "main.c", "semihost.c", "stack.c", "fault.c", "marker.c")
# The build for a board behind a debug probe (harness/probe.c): no semihosting, samples through RAM, DWT cycles.
PROBE_SOURCES = ("startup.S", "probe.c", "dwt.c", "stack.c")
PROBE = "-DMND_PROBE"
MARKER_SYMBOL = "mnd_marker"
DEFAULT_STACK_BYTES = 64 * 1024
DEFAULT_OPT = "-O2"
LIBRARY_PARTS = ("model", "tflm")  # the model library in the flash split: the model's code and data, the kernels
TOOL_TMPDIR = "tmp"  # the compiler's TMPDIR, inside the folder being built
# The flags every build of the model uses (the harness build here and the generated project's Makefile) after the
# core's own; the harness build adds PROFILE, which compiles in the layer markers it counts.
COMMON_CFLAGS = ("-std=gnu11", "-Wall", "-ffunction-sections", "-fdata-sections", "-fno-common")
PROFILE = "-DMND_PROFILE"
_PLUGIN_CFLAGS = ("-shared", "-fPIC", "-O2", "-Wall")
_OR = "(or use the docker/ image)"

# output section -> size category
_CATEGORY = {".vectors": "text", ".text": "text", ".ARM.extab": "text", ".ARM.exidx": "text",
             ".rodata": "rodata", ".data": "data", ".bss": "bss", ".stack": "stack"}


class ToolMissing(TargetUnavailable):
    """A compiler, binutils or QEMU program is not installed here."""


class FirmwareBuildError(MndError):
    """Compiling or linking the firmware failed; the message quotes the first error."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


class FirmwareTooBig(FirmwareBuildError):
    """The linked firmware overflows the flash or the RAM of the memory map it was linked for."""


@dataclass(frozen=True)
class Sizes:
    text: int = 0     # code (incl. vector table and unwind tables)
    rodata: int = 0   # constants (weights live here)
    data: int = 0     # initialised RAM, also stored in flash
    bss: int = 0      # zeroed RAM

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss

    def plus(self, category: str, size: int) -> "Sizes":
        return Sizes(**{**self.__dict__, category: getattr(self, category) + size})


@dataclass(frozen=True)
class Firmware:
    core: str
    elf: Path
    map_file: Path
    sizes: Sizes                 # the whole ELF
    parts: dict = field(default_factory=dict)  # "model" / "harness" / "runtime" -> Sizes
    stack_bytes: int = 0         # reserved stack (RAM on top of sizes.ram)
    marker_address: int = 0      # address of mnd_marker (Thumb bit cleared)


def model_flash_bytes(flash_parts: dict) -> int:
    """The model library's flash: the parts holding the model and its kernels (harness and libc/libgcc left out)."""
    return sum(flash_parts.get(part, 0) for part in LIBRARY_PARTS)


def memory_fields(firmware: Firmware, stack_peak_bytes: int) -> dict:
    """A Measurement's RAM and flash of `firmware` run with that stack peak: totals, the model library's flash, and
    parts as map_parts split them, the stack peak a RAM part of its own."""
    parts = firmware.parts
    flash_parts = {name: p.flash for name, p in parts.items()}
    return {"ram_bytes": firmware.sizes.ram + stack_peak_bytes, "flash_bytes": firmware.sizes.flash,
            "model_flash_bytes": model_flash_bytes(flash_parts),
            "ram_parts": {**{name: p.ram for name, p in parts.items()}, "stack_peak": stack_peak_bytes},
            "flash_parts": flash_parts}


def find_tool(name: str, core: str = "cortex-m") -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"{core}: {name} not found — {install_hint(name)} {_OR}")
    return path


@dataclass(frozen=True)
class CxxRuntime:
    """A C++ runtime linked under the harness (TFLite-Micro): its sources compiled with g++ and `cxx_flags`, more
    harness sources, static libraries, and their part name in the size split (archive file name -> part)."""
    cxx_flags: tuple
    harness_sources: tuple = ()
    libraries: tuple = ()
    parts: dict = field(default_factory=dict)


def build_firmware(core: Core, model_sources: list, include_dirs: list, out_dir: Path, opt: str = DEFAULT_OPT,
                   stack_bytes: int = DEFAULT_STACK_BYTES, probe: bool = False,
                   cxx: CxxRuntime | None = None, memory: MemoryMap | None = None) -> Firmware:
    """Compile harness + model for `core` into out_dir/firmware.elf (built beside out_dir, renamed into place);
    `probe`: the harness's probe build (PROBE_SOURCES, MND_PROBE) instead of the semihosting one; `cxx` adds a
    C++ runtime's sources (.cc) and libraries; `memory`: the map to link for (a board preset's, for the probe
    build), by default QEMU's for `core`."""
    gcc = find_tool("arm-none-eabi-gcc", core.name)
    find_tool("arm-none-eabi-size", core.name)
    find_tool("arm-none-eabi-nm", core.name)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with interrupts.deferred():  # a signal now cannot leave the folder behind
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        interrupts.raise_if_requested()
        harness = PROBE_SOURCES if probe else HARNESS_SOURCES
        sources = [(Path(HARNESS / s), "harness") for s in (*harness, *(cxx.harness_sources if cxx else ()))]
        sources += [(Path(s).resolve(), "model") for s in model_sources]
        includes = [HARNESS, *[Path(d).resolve() for d in include_dirs]]
        flags = [*core.cflags, opt, *COMMON_CFLAGS, PROFILE, *((PROBE,) if probe else ()),
                 *(f"-I{d}" for d in includes)]
        cxx_flags = [*core.cflags, opt, *cxx.cxx_flags, PROFILE, *(f"-I{d}" for d in includes)] if cxx else []
        objects = [_compile_source(core, src, _object_name(i, src, part), flags, cxx_flags, staging)
                   for i, (src, part) in enumerate(sources)]
        memory = memory or core.memory
        (staging / "link.ld").write_text(render_linker_script(memory, stack_bytes))
        try:
            _link(gcc, core, opt, objects, staging,
                  [str(Path(lib).resolve()) for lib in cxx.libraries] if cxx else [])
        except FirmwareBuildError as error:
            raise too_big(error.log, memory, stack_bytes) or error
        sizes = elf_sizes(staging / "firmware.elf", core.name)
        parts = map_parts((staging / "firmware.map").read_text(), cxx.parts if cxx else {})
        marker = marker_address(staging / "firmware.elf", core.name)
        shutil.rmtree(staging / TOOL_TMPDIR)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        with interrupts.deferred():
            shutil.rmtree(staging, ignore_errors=True)  # with gcc's temporary files: its TMPDIR is in there
        raise
    return Firmware(core=core.name, elf=out_dir / "firmware.elf", map_file=out_dir / "firmware.map",
                    sizes=sizes, parts=parts, stack_bytes=stack_bytes, marker_address=marker)


def render_linker_script(memory: MemoryMap, stack_bytes: int) -> str:
    template = string.Template((HARNESS / "link.ld.in").read_text())
    return template.substitute(
        boot_base=hex(memory.boot.base), boot_size=hex(memory.boot.size), code_base=hex(memory.code.base),
        code_size=hex(memory.code.size), ram_base=hex(memory.ram.base), ram_size=hex(memory.ram.size),
        stack_size=hex(stack_bytes))


_OVERFLOW = re.compile(r"region `(CODE|RAM)' overflowed by (\d+) bytes")


def too_big(link_log: str, memory: MemoryMap, stack_bytes: int) -> "FirmwareTooBig | None":
    """The one-line refusal for a link that overflowed the map's flash or RAM (ld names the region and the excess),
    else None."""
    over = {}
    for region, excess in _OVERFLOW.findall(link_log):
        over[region] = max(over.get(region, 0), int(excess))
    if not over:
        return None
    said = []
    if "CODE" in over:
        code = memory.code
        said.append(f"flash needs {code.size + over['CODE']:,} bytes, {code.size:,} are there (at {code.base:#010x}, "
                    "after the vector table)")
    if "RAM" in over:
        ram = memory.ram
        said.append(f"RAM needs {ram.size + over['RAM']:,} bytes (its {stack_bytes:,}-byte stack included), "
                    f"{ram.size:,} are there (at {ram.base:#010x})")
    return FirmwareTooBig(f"{memory.name}: the firmware does not fit: {'; '.join(said)} — export a smaller model "
                          "(a lower --alpha or input size) or pick a board with more memory", link_log)


def _object_name(index: int, source: Path, part: str) -> str:
    return f"obj/{part}/{index:02d}_{source.stem}.o"


def _compile_source(core: Core, source: Path, obj: str, flags: list, cxx_flags: list, cwd: Path) -> str:
    if source.suffix != ".cc":
        return _compile(find_tool("arm-none-eabi-gcc", core.name), core, source, obj, flags, cwd)
    if not cxx_flags:
        raise FirmwareBuildError(f"{core.name}: {source.name} is C++; only a C++ runtime's build compiles .cc files")
    return _compile(find_tool("arm-none-eabi-g++", core.name), core, source, obj, cxx_flags, cwd)


def _compile(gcc: str, core: Core, source: Path, obj: str, flags: list, cwd: Path) -> str:
    if not source.is_file():
        raise FirmwareBuildError(f"{core.name}: source file {source} not found")
    (cwd / obj).parent.mkdir(parents=True, exist_ok=True)
    _run_tool([gcc, *flags, "-c", str(source), "-o", obj], cwd, f"{core.name}: compiling {source.name} failed",
              tmpdir=cwd / TOOL_TMPDIR)
    return obj


def _link(gcc: str, core: Core, opt: str, objects: list, cwd: Path, libraries: list = ()) -> None:
    """`libraries` (a C++ runtime's archives) come with the math library, which they may call."""
    command = [gcc, *core.cflags, opt, "-nostartfiles", "-T", "link.ld", "-Wl,--gc-sections",
               "-Wl,-Map=firmware.map", "-Wl,--no-warn-rwx-segments", *objects, *libraries,
               *(["-lm"] if libraries else []), "-lc", "-lgcc", "-o", "firmware.elf"]
    _run_tool(command, cwd, f"{core.name}: linking the firmware failed", tmpdir=cwd / TOOL_TMPDIR)


def _run_tool(command: list, cwd: Path | None, what: str, tmpdir: Path | None = None) -> str:
    """The tool in a process group of its own (killed whole, gcc's cc1 and as too, on a signal), its temporary
    files in `tmpdir` (inside the build's staging folder, removed with it) when given."""
    env = None
    if tmpdir is not None:
        tmpdir.mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(tmpdir)}
    result = run_group(command, cwd=cwd, env=env, text=True)
    if result.returncode != 0:
        log = result.stdout + result.stderr
        raise FirmwareBuildError(f"{what}: {first_error(log)}", log)
    return result.stdout


_NEEDS_AN_OS = re.compile(r"undefined reference to `_(sbrk|write|read|close|lseek|fstat|isatty|exit|kill|getpid|open)'")


def first_error(log: str) -> str:
    """The first line that reports an error (a link error without the library's source path), else the last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    os_call = _NEEDS_AN_OS.search(log)
    if os_call:
        return (f"the model calls C library functions that need an operating system (malloc, printf, files: "
                f"undefined _{os_call.group(1)}); the harness provides none — use static buffers and no stdio")
    for line in lines:
        if re.search(r"\berror\b|undefined reference|overflowed|cannot find", line, re.IGNORECASE):
            at = line.find("undefined reference")
            return line[at:] if at > 0 else line
    return lines[-1] if lines else "no output from the compiler"


def elf_sizes(elf: Path, core: str = "cortex-m") -> Sizes:
    out = _run_tool([find_tool("arm-none-eabi-size", core), "-A", str(elf)], None, f"{core}: reading sizes")
    sizes = Sizes()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            category = _CATEGORY.get(parts[0])
            if category and category != "stack":
                sizes = sizes.plus(category, int(parts[1]))
    return sizes


def marker_address(elf: Path, core: str = "cortex-m") -> int:
    out = _run_tool([find_tool("arm-none-eabi-nm", core), str(elf)], None, f"{core}: reading symbols")
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == MARKER_SYMBOL and parts[1] in "Tt":
            return int(parts[0], 16) & ~1
    raise FirmwareBuildError(f"{core}: {MARKER_SYMBOL} is missing from {elf.name}; the harness marker.c was not linked")


_OUT_SECTION = re.compile(r"^(\.[^\s]+)")
_INPUT = re.compile(r"^ ([^\s*][^\s]*)(?:\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(.+))?$")
_CONTINUED = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(.+)$")


def map_parts(map_text: str, archives: dict | None = None) -> dict:
    """Sizes per part ("model", "harness", "runtime", and the parts `archives` names: archive file name -> part)
    from a GNU ld map file."""
    archives = archives or {}
    parts = {"model": Sizes(), "harness": Sizes(), **{part: Sizes() for part in archives.values()},
             "runtime": Sizes()}
    _, _, memory_map = map_text.partition("Linker script and memory map")
    category, pending = None, False
    for line in memory_map.splitlines():
        out = _OUT_SECTION.match(line)
        if out:
            category, pending = _CATEGORY.get(out.group(1)), False
            continue
        match = _INPUT.match(line)
        if match and match.group(2) is None:
            pending = True
            continue
        if match:
            size, source = int(match.group(3), 16), match.group(4)
        elif pending and _CONTINUED.match(line):
            continued = _CONTINUED.match(line)
            size, source = int(continued.group(2), 16), continued.group(3)
        else:
            continue
        pending = False
        if category and category != "stack" and size:
            part = _part_of(source.strip(), archives)
            parts[part] = parts[part].plus(category, size)
    return parts


def _part_of(source: str, archives: dict) -> str:
    archive = Path(source.partition("(")[0]).name
    if archive in archives:
        return archives[archive]
    if source.startswith("obj/model/"):
        return "model"
    if source.startswith("obj/harness/"):
        return "harness"
    return "runtime"


def build_plugin(out_dir: Path) -> Path:
    """Compile the plugin (plugin/mnd_count.c and the cycle model beside it) for the host; cached in out_dir by a
    hash of its sources and flags."""
    sources = b"".join((PLUGIN / name).read_bytes() for name in (*PLUGIN_SOURCES, *PLUGIN_HEADERS))
    digest = hashlib.sha256(sources + " ".join(_PLUGIN_CFLAGS).encode()).hexdigest()[:12]
    out_dir = Path(out_dir)
    target = out_dir / f"mnd_count-{digest}.so"
    if target.is_file():
        return target
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise ToolMissing(f"cortex-m: no host C compiler (gcc) to build the QEMU plugin — {install_hint('gcc')} "
                          f"{_OR}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with temporary_directory(".mnd_count-", dir=out_dir) as work:
        _run_tool([cc, *_PLUGIN_CFLAGS, *(str(PLUGIN / name) for name in PLUGIN_SOURCES), "-o", "mnd_count.so"], work,
                  "building the QEMU plugin failed", tmpdir=work / TOOL_TMPDIR)
        os.replace(work / "mnd_count.so", target)
    return target
