"""Which files of a TFLite-Micro tree a model needs: the framework, the kernels that register the model's operators
(CMSIS-NN's version where it has one) with the helpers they include, and the CMSIS-NN folders those kernels call.

Only what the model needs is compiled, so the library build stays short; the rules read the tree itself (no list
of file names per TFLM version):
- an operator OP is registered by the kernel file defining `TFLMRegistration Register_OP(`;
- a kernel including kernels/NAME.h needs kernels/NAME_common.cc, and kernels/NAME.cc when that file registers no
  operator (a helper such as kernel_util.cc), followed through the headers it includes in turn;
- a CMSIS-NN kernel calling arm_FUNCTION needs the CMSIS-NN Source folder holding arm_FUNCTION.c, and every kernel
  needs NNSupportFunctions; a CMSIS-NN file calling arm_OTHER (under any #if: cortex-m55's MVE paths call functions
  the others do not) needs arm_OTHER.c, followed file by file.
"""
import re
from pathlib import Path

from mnd.base.errors import ModelError
from mnd.targets.cortex_m.tflm_tree import TflmTree

KERNELS = Path("tensorflow/lite/micro/kernels")
FRAMEWORK_FOLDERS = ("tensorflow/lite/micro", "tensorflow/lite/micro/arena_allocator",
                     "tensorflow/lite/micro/memory_planner", "tensorflow/lite/micro/tflite_bridge",
                     "tensorflow/lite/core/c", "tensorflow/lite/core/api", "tensorflow/lite/kernels",
                     "tensorflow/lite/kernels/internal", "tensorflow/lite/kernels/internal/reference",
                     "tensorflow/compiler/mlir/lite/core/api", "tensorflow/compiler/mlir/lite/schema")
# Test helpers, and the platform's debug_log.cc: mnd's harness brings its own DebugLog (tflm_support.cc).
NOT_LIBRARY = frozenset(("test_helpers.cc", "test_helper_custom_ops.cc", "mock_micro_graph.cc",
                         "fake_micro_context.cc", "debug_log.cc", "kernel_runner.cc"))
ALWAYS_NN = "NNSupportFunctions"
FLOAT_ONLY = re.compile(r"(_f16|_f32|_flt)\.c$")  # CMSIS-NN's float files: TFLM builds with F16/F32 off
_INCLUDE = re.compile(r'#include\s+"tensorflow/lite/micro/kernels/(?:cmsis_nn/)?(\w+)\.h"')
_CALL = re.compile(r"\b(arm_\w+)\s*\(")
KERNEL_SETS = ("cmsis_nn", "reference")


def framework_sources(tree: TflmTree) -> list:
    """Relative paths of the interpreter, allocator and shared helpers every model links."""
    found = []
    for folder in FRAMEWORK_FOLDERS:
        found += [path for path in sorted((tree.root / folder).glob("*.cc")) if _library_file(path)]
    return [path.relative_to(tree.root) for path in found]


def _library_file(path: Path) -> bool:
    return path.name not in NOT_LIBRARY and not path.name.endswith("_test.cc")


def registering_file(tree: TflmTree, op: str, kernels: str) -> Path:
    """The kernel file defining Register_<op> (CMSIS-NN's first when `kernels` is cmsis_nn)."""
    definition = re.compile(rf"\bTFLMRegistration\s+Register_{re.escape(op)}\s*\(")
    folders = [KERNELS / "cmsis_nn", KERNELS] if kernels == "cmsis_nn" else [KERNELS]
    for folder in folders:
        for path in sorted((tree.root / folder).glob("*.cc")):
            if _library_file(path) and definition.search(path.read_text(errors="replace")):
                return path.relative_to(tree.root)
    raise ModelError(f"op {op}: no kernel in {tree.root / KERNELS} defines Register_{op}; this TFLM tree cannot "
                     "run the model (update the tree or rebuild the model from supported ops)")


def kernel_sources(tree: TflmTree, ops: list, kernels: str = "cmsis_nn") -> list:
    """Relative paths of the kernel files for `ops` (TFLite builtin names) and the helpers they include."""
    chosen = {registering_file(tree, op, kernels) for op in sorted(set(ops))}
    pending, seen_headers = list(chosen), set()
    while pending:
        text = (tree.root / pending.pop()).read_text(errors="replace")
        for stem in _INCLUDE.findall(text):
            header = KERNELS / f"{stem}.h"
            if header not in seen_headers and (tree.root / header).is_file():
                seen_headers.add(header)
                pending.append(header)
            for helper in _helpers(tree, stem):
                if helper not in chosen:
                    chosen.add(helper)
                    pending.append(helper)
    return sorted(chosen)


def _helpers(tree: TflmTree, stem: str) -> list:
    helpers = []
    common = KERNELS / f"{stem}_common.cc"
    if (tree.root / common).is_file():
        helpers.append(common)
    same = KERNELS / f"{stem}.cc"
    if (tree.root / same).is_file() and "TFLMRegistration Register_" not in (tree.root / same).read_text(
            errors="replace"):
        helpers.append(same)
    return helpers


def cmsis_nn_sources(tree: TflmTree, kernel_files: list) -> list:
    """Absolute paths of the CMSIS-NN C files the CMSIS-NN kernels among `kernel_files` need (whole folders), and
    the files of other folders those call in turn (on any core: a call under #if ARM_MATH_MVEI counts too)."""
    source = tree.cmsis_nn / "Source"
    defined = {path.stem: path for path in source.glob("*/*.c") if not FLOAT_ONLY.search(path.name)}
    folders = {ALWAYS_NN}
    for kernel in kernel_files:
        if kernel.parent.name == "cmsis_nn":
            folders |= {path.parent.name for path in _called(tree.root / kernel, defined)}
    chosen = {path for folder in folders for path in defined.values() if path.parent.name == folder}
    pending = list(chosen)
    while pending:
        for path in _called(pending.pop(), defined) - chosen:
            chosen.add(path)
            pending.append(path)
    return sorted(chosen)


def _called(path: Path, defined: dict) -> set:
    """The CMSIS-NN files defining the arm_* functions `path` calls."""
    return {defined[name] for name in _CALL.findall(path.read_text(errors="replace")) if name in defined}


def library_sources(tree: TflmTree, ops: list, kernels: str = "cmsis_nn") -> list:
    """Every file of the model's library, absolute: framework, kernels and (cmsis_nn) the CMSIS-NN folders."""
    kernel_files = kernel_sources(tree, ops, kernels)
    files = [tree.root / path for path in (*framework_sources(tree), *kernel_files)]
    return files + (cmsis_nn_sources(tree, kernel_files) if kernels == "cmsis_nn" else [])
