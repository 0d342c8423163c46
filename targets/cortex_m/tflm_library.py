"""Build TFLite-Micro with its CMSIS-NN kernels for one core into a static library, cached under MND_CACHE.

Objects are cached one by one in MND_CACHE/tflm/<key>/obj/, the key hashing the tree's content (TflmTree.key),
the core's flags, the kernel set, the -O level and the compiler's version: a model that needs one more operator
compiles only its kernel. The library of a model's file set is MND_CACHE/tflm/<key>/libtflm-<files>.a. Every
object and library is written under a temporary name and renamed into place, so parallel or interrupted builds
never leave a partial file where a finished one is expected.
"""
import hashlib
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mnd.base.cache_folder import cache_dir
from mnd.base.progress import phase
from mnd.targets.cortex_m.cores import Core
from mnd.targets.cortex_m.firmware import DEFAULT_OPT, FirmwareBuildError, _run_tool, find_tool
from mnd.targets.cortex_m.tflm_sources import library_sources
from mnd.targets.cortex_m.tflm_tree import TflmTree

# TFLM's own flags for a release build with its error strings (tools/make/Makefile) and the cortex_m_generic
# target's; CMSIS-NN without its float paths, as TFLM builds it.
DEFINES = ("-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON", "-DKERNELS_OPTIMIZED_FOR_SPEED", "-DNDEBUG",
           "-DTF_LITE_MCU_DEBUG_LOG", "-DARM_NN_ENABLE_F16=0", "-DARM_NN_ENABLE_F32=0")
COMMON = ("-mlittle-endian", "-funsigned-char", "-fomit-frame-pointer", "-fno-unwind-tables",
          "-fno-asynchronous-unwind-tables", "-ffunction-sections", "-fdata-sections", "-fmessage-length=0")
CXX_ONLY = ("-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-fno-use-cxa-atexit")
C_ONLY = ("-std=c17",)


@dataclass(frozen=True)
class TflmLibrary:
    archive: Path
    cxx_flags: tuple     # what code including TFLM's headers adds to the core's flags and -O level (no -I)
    include_dirs: tuple
    sources: int         # files in the library
    compiled: int        # of which compiled now (0: all cached)
    seconds: float       # time spent compiling and archiving now


def cache_root() -> Path:
    return cache_dir() / "tflm"


def defines(kernels: str) -> tuple:
    return DEFINES + (("-DCMSIS_NN",) if kernels == "cmsis_nn" else ())


def compiler_version(gcc: str) -> str:
    done = subprocess.run([gcc, "--version"], capture_output=True, text=True)
    return done.stdout.splitlines()[0] if done.stdout else gcc


def build_key(tree: TflmTree, core: Core, kernels: str, opt: str, version: str) -> str:
    flags = {"core": core.name, "cflags": core.cflags, "kernels": kernels, "opt": opt, "defines": defines(kernels),
             "common": COMMON, "cxx": CXX_ONLY, "c": C_ONLY, "compiler": version}
    text = json.dumps({"tree": tree.key(), **flags}, sort_keys=True)
    return f"{core.name}-{kernels}{opt}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def build_library(tree: TflmTree, core: Core, ops: list, kernels: str = "cmsis_nn", opt: str = DEFAULT_OPT,
                  jobs: int | None = None) -> TflmLibrary:
    """The library of what `ops` need for `core`, from cache where the objects are there."""
    gcc, gxx = find_tool("arm-none-eabi-gcc", core.name), find_tool("arm-none-eabi-g++", core.name)
    ar = find_tool("arm-none-eabi-ar", core.name)
    folder = cache_root() / build_key(tree, core, kernels, opt, compiler_version(gcc))
    sources = library_sources(tree, ops, kernels)
    includes = tuple(tree.include_dirs())
    base = (*core.cflags, opt, *COMMON, *defines(kernels), *(f"-I{d}" for d in includes))
    objects = [folder / "obj" / f"{_relative(tree, source)}.o" for source in sources]
    missing = [(source, obj) for source, obj in zip(sources, objects) if not obj.is_file()]
    digest = hashlib.sha256("\n".join(str(o.relative_to(folder)) for o in objects).encode()).hexdigest()[:12]
    archive = folder / f"libtflm-{digest}.a"
    started = time.monotonic()
    if missing or not archive.is_file():
        with phase(f"{core.name}: TFLite-Micro + {kernels} library, {len(missing)} of {len(sources)} files to "
                   f"compile (cached in {folder})"):
            _compile_all(missing, gcc, gxx, base, folder, jobs or os.cpu_count() or 1)
            _archive(ar, objects, archive, folder)
    return TflmLibrary(archive, (*COMMON, *CXX_ONLY, *defines(kernels)), includes,
                       len(sources), len(missing), time.monotonic() - started)


def _relative(tree: TflmTree, source: Path) -> str:
    for label, folder in (("cmsis_nn", tree.cmsis_nn), ("tflm", tree.root)):
        if source.is_relative_to(folder):
            return f"{label}/{source.relative_to(folder).as_posix()}"
    raise FirmwareBuildError(f"{source} is outside the TFLM tree")


def _compile_all(pairs: list, gcc: str, gxx: str, base: tuple, folder: Path, jobs: int) -> None:
    tmpdir = folder / f"tmp-{os.getpid()}"  # the compilers' temporary files, removed after
    tmpdir.mkdir(parents=True, exist_ok=True)
    try:
        _compile_each(pairs, gcc, gxx, base, tmpdir, jobs)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _compile_each(pairs: list, gcc: str, gxx: str, base: tuple, tmpdir: Path, jobs: int) -> None:

    def compile_one(pair):
        source, obj = pair
        obj.parent.mkdir(parents=True, exist_ok=True)
        partial = obj.with_name(f".{obj.name}.{os.getpid()}.partial")
        compiler, only = (gxx, CXX_ONLY) if source.suffix == ".cc" else (gcc, C_ONLY)
        _run_tool([compiler, *base, *only, "-c", str(source), "-o", str(partial)], None,
                  f"compiling {source.name} of the TFLM tree failed", tmpdir=tmpdir)
        os.replace(partial, obj)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for _ in pool.map(compile_one, pairs):  # the first failure raises here
            pass


def _archive(ar: str, objects: list, archive: Path, folder: Path) -> None:
    partial = archive.with_name(f".{archive.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    _run_tool([ar, "qcs", str(partial), *map(str, objects)], folder, "archiving the TFLM library failed")
    os.replace(partial, archive)
