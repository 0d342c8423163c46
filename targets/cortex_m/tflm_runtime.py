"""The TFLite-Micro runtimes: the export's TFLite-Micro C arrays (tflm/<name>_model_data.cc, its header and op
resolver) linked with TFLM (tflm_library.py) under mnd's harness, run under QEMU with the counting plugin like
mnd-c: instructions per operator (harness/tflm_model.cc), the arena TFLM's interpreter reports using, flash and RAM
split into model (the array), tflm (the library), harness and runtime (libc, libgcc). One code path, two kernel
sets: `tflm-cmsis-nn` (TFLM's CMSIS-NN kernels) and `tflm-reference` (its portable reference kernels)."""
import re
from dataclasses import dataclass
from pathlib import Path

from mnd.base.errors import ModelError
from mnd.pipeline.formats.c_array import camel
from mnd.targets.cortex_m.cores import Core
from mnd.targets.cortex_m.firmware import CxxRuntime, Firmware, FirmwareBuildError, build_firmware, model_flash_bytes
from mnd.targets.cortex_m.qemu import FirmwareRunError, RunResult, run_firmware
from mnd.targets.cortex_m.tflm_library import TflmLibrary, build_library
from mnd.targets.cortex_m.tflm_tree import TflmTree

RUNTIMES = {"tflm-cmsis-nn": "cmsis_nn", "tflm-reference": "reference"}  # runtime -> tflm_sources kernel set
DEFAULT_RUNTIMES = ("tflm-cmsis-nn",)
HARNESS_SOURCES = ("tflm_model.cc", "tflm_support.cc")
_SOURCE_SUFFIX = "_model_data.cc"
_ARENA_LINE = re.compile(r"mnd-tflm arena_used=(\d+)")


@dataclass(frozen=True)
class TflmRun:
    firmware: Firmware
    library: TflmLibrary
    result: RunResult
    arena_used_bytes: int   # the interpreter's arena_used_bytes()
    arena_static_bytes: int  # the harness's arena array, of which that much was used
    flash_wait_states: int = 0  # in the cycle estimate
    runtime: str = "tflm-cmsis-nn"


def model_header(input_bytes: int, output_bytes: int, operators: int) -> str:
    """model.h for main.c: the sizes and operator count of the .tflite, and the entry point tflm_model.cc defines."""
    return ("/* Written by mnd for its TFLite-Micro harness build. Do not edit. */\n"
            "#ifndef MND_MODEL_H\n#define MND_MODEL_H\n\n#include <stdint.h>\n\n"
            f"#define MND_INPUT_BYTES {input_bytes}\n#define MND_OUTPUT_BYTES {output_bytes}\n"
            f"#define MND_LAYERS {operators}\n\n"
            "#ifdef __cplusplus\nextern \"C\" {\n#endif\n"
            "void mnd_model_invoke(const int8_t* input, int8_t* output);\n"
            "#ifdef __cplusplus\n}\n#endif\n\n#endif\n")


def harness_arena_bytes(header_arena_bytes: int | None, ram_bytes: int = 4 << 20) -> int:
    """The harness's static arena: the export's header gives the host's (reference kernels) figure, and CMSIS-NN's
    kernels ask for scratch buffers on top, so twice that and 64 KiB more, within the emulated RAM less 1 MiB (stack
    and the rest); the row reports what TFLM used of it."""
    wanted = 2 * header_arena_bytes + 65536 if header_arena_bytes else 1 << 20
    return min(wanted, ram_bytes - (1 << 20)) // 16 * 16


def binding_header(ident: str, arena_bytes: int) -> str:
    """tflm_binding.h: the names write_c_array gave the export's array and resolver, and the harness's arena."""
    name = camel(ident)
    return ("/* Written by mnd: the export's TFLite-Micro C array as tflm_model.cc knows it. Do not edit. */\n"
            "#ifndef MND_TFLM_BINDING_H\n#define MND_TFLM_BINDING_H\n\n"
            f'#include "{ident}_model_data.h"\n#include "{ident}_op_resolver.h"\n\n'
            f"#define MND_TFLM_MODEL_DATA g_{ident}_model_data\n"
            f"#define MND_TFLM_ARENA_BYTES {arena_bytes}\n"
            f"using MndOpResolver = {name}OpResolver;\n"
            f"inline TfLiteStatus MndRegisterOps(MndOpResolver& resolver) {{ return Register{name}Ops(resolver); }}\n"
            "\n#endif\n")


def c_array_ident(source: Path) -> str:
    if not source.name.endswith(_SOURCE_SUFFIX):
        raise ModelError(f"{source.name} is not a TFLite-Micro C array written by mnd (<name>{_SOURCE_SUFFIX}); "
                         "export again with tflm among --formats")
    return source.name.removesuffix(_SOURCE_SUFFIX)


def build_tflm_firmware(core: Core, tree: TflmTree, c_source: Path, model, work: Path, arena_bytes: int,
                        runtime: str = "tflm-cmsis-nn") -> tuple:
    """(Firmware, TflmLibrary) for the export's C array `c_source` (its header and resolver beside it); `model`:
    the .tflite as read_tflite describes it (operators, input and output); `arena_bytes`: the static arena;
    `runtime`: a RUNTIMES name, the kernel set linked."""
    ident = c_array_ident(c_source)
    library = build_library(tree, core, list(model.ops), RUNTIMES[runtime])
    work.mkdir(parents=True, exist_ok=True)
    (work / "model.h").write_text(model_header(_bytes(model.inputs[0]), _bytes(model.outputs[0]), len(model.ops)))
    (work / "tflm_binding.h").write_text(binding_header(ident, arena_bytes))
    runtime = CxxRuntime(library.cxx_flags, HARNESS_SOURCES, (library.archive,), {library.archive.name: "tflm"})
    firmware = build_firmware(core, [c_source], [work, c_source.parent, *library.include_dirs], work / "build",
                              cxx=runtime)
    return firmware, library


def _bytes(tensor) -> int:
    if tensor.dtype != "int8":
        raise FirmwareBuildError(f"the TFLM runtimes run int8 models; this tensor is {tensor.dtype}")
    count = 1
    for side in tensor.shape:
        count *= int(side)
    return count


def run_tflm(core: Core, tree: TflmTree, c_source: Path, model, work: Path, inputs: bytes, timeout_s: float,
             header_arena_bytes: int | None, flash_wait_states: int = 0, runtime: str = "tflm-cmsis-nn") -> TflmRun:
    arena = harness_arena_bytes(header_arena_bytes, core.ram.size)
    firmware, library = build_tflm_firmware(core, tree, c_source, model, work, arena, runtime)
    result = run_firmware(core, firmware, work / "run", inputs, timeout_s=timeout_s,
                          flash_wait_states=flash_wait_states)
    return TflmRun(firmware, library, result, arena_used(result.stdout, core), arena, flash_wait_states, runtime)


def arena_used(text: str, core: Core) -> int:
    found = _ARENA_LINE.search(text)
    if not found:
        raise FirmwareRunError(f"{core.name}: the TFLM harness printed no 'mnd-tflm arena_used=' line", text)
    return int(found.group(1))


def layer_macs(int8_bytes: bytes, ops: tuple, engine_macs: tuple) -> list:
    """MACs per operator of the .tflite: the C engine's count for each layer it keeps, 0 for the shape-only
    operators it drops (a RESHAPE's SHAPE -> STRIDED_SLICE -> PACK chain)."""
    from mnd.base.tflite.read import load_tflite
    from mnd.engine.generator import shape_only_ops

    dropped = shape_only_ops(list(ops), load_tflite(int8_bytes).subgraphs[0])
    kept = iter(engine_macs)
    return [0 if index in dropped else int(next(kept, 0)) for index in range(len(ops))]


def measurement(core: Core, run: TflmRun, ops: tuple, macs: list, accuracy, samples: int, tflm_arena_bytes,
                tree_record: dict | None = None):
    from mnd.pipeline.manifest import Measurement

    parts = {name: p.ram for name, p in run.firmware.parts.items()}
    parts["harness"] -= run.arena_static_bytes  # the array is sized generously: count the arena TFLM used
    ram_parts = {**parts, "arena": run.arena_used_bytes, "stack_peak": run.result.stack_peak_bytes}
    flash_parts = {name: p.flash for name, p in run.firmware.parts.items()}
    return Measurement(
        target=core.name, runtime=run.runtime, artifact="tflm_c_source", accuracy=accuracy, n=samples, latency_ms=None,
        runs=samples, threads=None, warmup=None, emulated=True, **run.result.per_inference(),
        flash_wait_states=run.flash_wait_states,
        ram_bytes=sum(ram_parts.values()), flash_bytes=run.firmware.sizes.flash,
        model_flash_bytes=model_flash_bytes(flash_parts), arena_bytes=run.arena_used_bytes,
        tflm_arena_bytes=tflm_arena_bytes, layers=run.result.layer_rows(ops, macs), ram_parts=ram_parts,
        flash_parts=flash_parts, tflm_tree=tree_record)
