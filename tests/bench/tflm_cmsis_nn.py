"""TFLM + CMSIS-NN from the pinned, read-only vendor tree ../shared/vendor/tflm-cmsis-nn (a benchmark comparator,
never part of the product): build its benchmark firmware into a cache keyed by the tree's MANIFEST.sha256, run it
under QEMU with its instruction-counting plugin (bench/run.sh) and read back the count of one Invoke()."""
import hashlib
import os
import platform
import re
import subprocess
from pathlib import Path

NICE = ("nice", "-n", "19")  # benchmarks share the machine: compile and emulate at the lowest priority


def vendor_dir() -> Path:
    default = Path(__file__).resolve().parents[3] / "shared" / "vendor" / "tflm-cmsis-nn"
    return Path(os.environ.get("MND_TFLM_CMSIS_NN", default))


def cache_key(manifest_text: bytes) -> str:
    """First 12 hex digits of the sha256 of the tree's MANIFEST.sha256: a changed tree gets a fresh cache."""
    return hashlib.sha256(manifest_text).hexdigest()[:12]


def cache_dir(vendor: Path) -> Path:
    root = Path(os.environ.get("MND_CACHE", Path.home() / ".cache" / "mnd"))
    return root / f"tflm-cmsis-nn-{cache_key((vendor / 'MANIFEST.sha256').read_bytes())}"


def variant(core: str, kernels: str, opt: str = "-O2") -> str:
    """The tree's Makefile names a build folder $(OUT)/<model>/<core>-<kernels><opt>."""
    return f"{core}-{kernels}{opt}"


def build(vendor: Path, out: Path, core: str, kernels: str, model: Path, jobs: int = 2) -> Path:
    """`make CORE= KERNELS= MODEL= OUT=` in the tree (its library objects are cached per core in OUT/lib)."""
    command = [*NICE, "make", "-s", f"-j{jobs}", "-C", str(vendor), f"OUT={out}", f"CORE={core}",
               f"KERNELS={kernels}", f"MODEL={Path(model).resolve()}"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"TFLM build failed ({core}, {kernels}, {Path(model).name}):\n{done.stdout[-2000:]}"
                           f"{done.stderr[-2000:]}")
    return out / Path(model).stem / variant(core, kernels) / "firmware.elf"


def parse_invoke(text: str) -> int:
    """bench/run.sh's last line: invoke_instructions=N markers=M total_instructions=T."""
    found = re.search(r"invoke_instructions=(\d+)", text)
    if not found:
        raise RuntimeError(f"no invoke_instructions in bench/run.sh output:\n{text[-2000:]}")
    return int(found.group(1))


def run(vendor: Path, out: Path, core: str, elf: Path, inputs: Path, timeout_s: int = 300) -> tuple:
    """(instructions of one Invoke, the output tensor's bytes) for one input under QEMU."""
    work = elf.parent / "run"
    env = {**os.environ, "OUT": str(out), "BENCH_TIMEOUT": str(timeout_s)}
    done = subprocess.run([*NICE, str(vendor / "bench" / "run.sh"), core, str(elf), str(inputs), str(work)],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"TFLM run failed ({core}, {elf}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return parse_invoke(done.stdout), (work / "outputs.bin").read_bytes()


def cpu_name() -> str:
    """The host CPU's model name (QEMU's instruction counts do not depend on it; its speed only sets run time)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def qemu_version() -> str:
    done = subprocess.run(["qemu-system-arm", "--version"], capture_output=True, text=True)
    return done.stdout.splitlines()[0] if done.stdout else "qemu-system-arm (version unknown)"
