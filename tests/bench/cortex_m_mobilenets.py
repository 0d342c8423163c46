"""mnd-c against TFLM (reference kernels, and CMSIS-NN) on the same .tflite, the same input and the same QEMU: the
MLPerf Tiny VWW model (MobileNetV1 0.25-96), MobileNetV2 0.35-96 and MobileNetV3-Small 0.75-96 on each core.

TFLM + CMSIS-NN comes from the pinned, read-only tree ../shared/vendor/tflm-cmsis-nn (built into a cache outside
the repository; see tflm_cmsis_nn.py). Set MND_BENCH_CORES (space-separated) to run fewer cores."""
import os
import tempfile
from pathlib import Path

import numpy as np

from tests.bench import tflm_cmsis_nn as tflm

CORES = ("cortex-m4", "cortex-m55", "cortex-m7", "cortex-m33")
MODELS = (("VWW (MobileNetV1 0.25-96)", "vww_96_int8"),
          ("MobileNetV2 0.35-96", "mobilenet_v2_035_96_int8"),
          ("MobileNetV3-Small 0.75-96", "mobilenet_v3s_075_96_int8"))
IMAGE = "000000000724"  # vww_dev image the tree's bench/make_input.py quantized into each model's input
GOALS = {"mobilenet_v2_035_96_int8": 0.6, "mobilenet_v3s_075_96_int8": 0.5}  # mnd-c / (TFLM + CMSIS-NN)
GOAL_CORES = ("cortex-m4", "cortex-m55")


def _cores() -> tuple:
    chosen = os.environ.get("MND_BENCH_CORES", "").split()
    return tuple(core for core in CORES if not chosen or core in chosen)


def _litert_reference(model: Path, inputs: bytes) -> bytes:
    """LiteRT's reference kernels (BUILTIN_REF) on the same input bytes, through mnd's own sandboxed runner."""
    from ai_edge_litert.interpreter import Interpreter

    from mnd.pipeline.runtimes.sandbox import run_model

    shape = Interpreter(model_path=str(model)).get_input_details()[0]["shape"]
    sample = np.frombuffer(inputs, np.int8).reshape(shape)
    return run_model("litert-ref", model, sample).outputs.astype(np.int8).tobytes()


def mndc(core_name: str, model: Path, inputs: bytes, work: Path) -> tuple:
    """(instructions of one inference, output bytes, kernel set) of mnd-c for `model` on `inputs`: the project
    `mnd export --target <core>` generates (kernels auto), built into the harness firmware and run once."""
    from mnd.engine.generator import generate
    from mnd.targets.cortex_m.cores import CORES as CORE_SPECS
    from mnd.targets.cortex_m.firmware import build_firmware
    from mnd.targets.cortex_m.project import SOURCES, write_project
    from mnd.targets.cortex_m.qemu import run_firmware

    core = CORE_SPECS[core_name]
    project = work / f"{model.stem}-{core_name}"
    generated = generate(model.read_bytes(), project, str(model), None, core.kernels)
    write_project(project, core, generated)
    firmware = build_firmware(core, [project / source for source in SOURCES], [project], project / "build")
    result = run_firmware(core, firmware, project / "run", inputs, timeout_s=600)
    return result.inference_instructions()[0], result.outputs, core.kernels


def measure(vendor: Path, out: Path, core: str, model: Path, inputs: Path, work: Path) -> dict:
    reference = _litert_reference(model, inputs.read_bytes())
    row = {}
    for kernels in ("reference", "cmsis_nn"):
        elf = tflm.build(vendor, out, core, kernels, model)
        count, outputs = tflm.run(vendor, out, core, elf, inputs)
        row[kernels] = (count, outputs == reference)
    count, outputs, kernel_set = mndc(core, model, inputs.read_bytes(), work)
    row["mnd-c"] = (count, outputs == reference)
    row["kernel_set"] = kernel_set
    return row


def _m(count: int) -> str:
    return f"{count / 1e6:.2f} M"


def _check(row: dict) -> str:
    return ", ".join(f"{name}: {'match' if row[key][1] else 'DIFFER'}"
                     for name, key in (("ref", "reference"), ("CMSIS-NN", "cmsis_nn"), ("mnd-c", "mnd-c")))


def table(rows: dict) -> list:
    lines = ["| model | core | TFLM reference kernels | TFLM + CMSIS-NN | mnd-c (kernels) | "
             "mnd-c / (TFLM + CMSIS-NN) | output = LiteRT reference kernels |", "|---|---|---:|---:|---:|---:|---|"]
    for (label, name), core in ((m, c) for m in MODELS for c in CORES):
        row = rows.get((name, core))
        if row is None:
            continue
        ref, nn, ours = row["reference"][0], row["cmsis_nn"][0], row["mnd-c"][0]
        lines.append(f"| {label} | {core} | {_m(ref)} | {_m(nn)} | {_m(ours)} ({row['kernel_set']}) | "
                     f"{ours / nn:.2f}x | {_check(row)} |")
    return lines


def goals(rows: dict) -> list:
    lines = []
    for (label, name) in MODELS:
        if name not in GOALS:
            continue
        for core in GOAL_CORES:
            row = rows.get((name, core))
            if row is None:
                lines.append(f"- {label} on {core}: mnd-c <= {GOALS[name]}x TFLM + CMSIS-NN: not measured in this run")
                continue
            ratio = row["mnd-c"][0] / row["cmsis_nn"][0]
            exact = row["mnd-c"][1]
            met = ratio <= GOALS[name] and exact
            lines.append(f"- {label} on {core}: mnd-c <= {GOALS[name]}x TFLM + CMSIS-NN: measured {ratio:.2f}x "
                         f"({_m(row['mnd-c'][0])} / {_m(row['cmsis_nn'][0])}): **{'met' if met else 'NOT met'}**"
                         + ("" if exact else " (mnd-c output differs from LiteRT's reference kernels)"))
    return lines


def run() -> str:
    vendor = tflm.vendor_dir()
    if not (vendor / "Makefile").exists():
        return ("## Cortex-M: mnd-c vs TFLM + CMSIS-NN on MobileNets (`make bench`)\n\n"
                f"Not run: the TFLM + CMSIS-NN tree is not at {vendor} (set MND_TFLM_CMSIS_NN).")
    out = tflm.cache_dir(vendor)
    cores = _cores()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for core in cores:  # core by core: one core's TFLM library is built once and serves all three models
            for _, name in MODELS:
                model = vendor / "bench" / "models" / f"{name}.tflite"
                inputs = vendor / "bench" / "models" / f"{name}_input_{IMAGE}.bin"
                rows[name, core] = measure(vendor, out, core, model, inputs, Path(tmp))
    skipped = [core for core in CORES if core not in cores]
    lines = ["## Cortex-M: mnd-c vs TFLM + CMSIS-NN on MobileNets (`make bench`)", "",
             "Instructions per inference (one inference each), counted by a QEMU TCG plugin between markers around "
             "the inference (QEMU has no timing model: instructions, not cycles), for the same int8 .tflite "
             "and the same input on the same emulated cores. TFLM and CMSIS-NN from the pinned tree "
             f"`shared/vendor/tflm-cmsis-nn` (built with its own Makefile at -O2 into `{out.name}`, outside the "
             "repository): `reference` = TFLM's portable kernels, `CMSIS-NN` = TFLM with CMSIS-NN kernels "
             "(ops without one, e.g. MEAN and HARD_SWISH, fall back to TFLM's reference code). mnd-c: the C project "
             "`mnd export --target <core>` generates (kernels auto: DSP on m4/m7/m33, Helium on m55), -O2, in "
             "mnd's harness. Models: the tree's `bench/models/` (MLPerf Tiny VWW; untrained Keras-Applications "
             "MobileNetV2 0.35-96 and MobileNetV3-Small 0.75-96 with PTQ, op mix and cost only). "
             f"Input for every engine: vww_dev image {IMAGE} quantized with each model's input parameters "
             f"(`bench/models/<model>_input_{IMAGE}.bin`); every output is compared byte for byte with LiteRT's "
             "reference kernels (BUILTIN_REF) on that input.", "",
             f"Host CPU: {tflm.cpu_name()}, {os.cpu_count()} logical CPUs ({tflm.qemu_version()}; the counts do "
             "not depend on the host). The V3 file's Flatten keeps Keras's dynamic-batch SHAPE/STRIDED_SLICE/PACK "
             "chain: TFLM runs it, mnd-c drops it (shapes are static).", "",
             *table(rows), "", "Goals (mnd-c / (TFLM + CMSIS-NN), measured in this run, outputs bit-exact):",
             *goals(rows)]
    if skipped:
        lines += ["", f"Cores not run this time (MND_BENCH_CORES): {', '.join(skipped)}."]
    return "\n".join(lines)
