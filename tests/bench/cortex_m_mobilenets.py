"""mnd-c against TFLM (reference kernels, and CMSIS-NN) on the same .tflite, the same input and the same QEMU: the
MLPerf Tiny VWW model (MobileNetV1 0.25-96), MobileNetV2 0.35-96 and MobileNetV3-Small 0.75-96 on each core.

Through the CLI and the runtimes, like cortex_m_vww.py: one `mnd export --target <core> --eval-samples 1
--tflm-source shared/vendor/tflm-cmsis-nn --tflm-runtimes all` per model and core (the TFLM libraries are cached per
core and kernel set in MND_CACHE/tflm, outside the repository). Set MND_BENCH_CORES (space-separated) to run fewer
cores."""
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from tests.bench.cortex_m_vww import VENDOR, core_rows, export

CORES = ("cortex-m4", "cortex-m55", "cortex-m7", "cortex-m33")
MODELS = (("VWW (MobileNetV1 0.25-96)", "vww_96_int8"),
          ("MobileNetV2 0.35-96", "mobilenet_v2_035_96_int8"),
          ("MobileNetV3-Small 0.75-96", "mobilenet_v3s_075_96_int8"))
GOALS = {"mobilenet_v2_035_96_int8": 0.6, "mobilenet_v3s_075_96_int8": 0.5}  # mnd-c / (TFLM + CMSIS-NN)
GOAL_CORES = ("cortex-m4", "cortex-m55")
ROW_KEYS = {"reference": "tflm-reference", "cmsis_nn": "tflm-cmsis-nn", "mnd-c": "mnd-c"}


def _cores() -> tuple:
    chosen = os.environ.get("MND_BENCH_CORES", "").split()
    return tuple(core for core in CORES if not chosen or core in chosen)


def measure(core: str, model: Path, out: Path) -> dict:
    """{"reference" | "cmsis_nn" | "mnd-c": (instructions per inference, bit-exact per the manifest's check),
    "kernel_set": mnd-c's kernels} for `model` on one vww_dev image."""
    from mnd.targets.cortex_m.cores import CORES as CORE_SPECS

    rows = core_rows(export(core, out, 1, model=model), core)
    row = {key: (rows[runtime]["instructions"], rows[runtime]["exact_n"] == rows[runtime]["n"])
           for key, runtime in ROW_KEYS.items()}
    return {**row, "kernel_set": CORE_SPECS[core].kernels}


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
    if not (VENDOR / "tensorflow").is_dir():
        return ("## Cortex-M: mnd-c vs TFLM + CMSIS-NN on MobileNets (`make bench`)\n\n"
                f"Not run: the TFLM + CMSIS-NN tree is not at {VENDOR}.")
    cores = _cores()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for core in cores:  # core by core: one core's TFLM libraries serve all three models
            for _, name in MODELS:
                model = VENDOR / "bench" / "models" / f"{name}.tflite"
                rows[name, core] = measure(core, model, Path(tmp) / f"{name}-{core}")
    skipped = [core for core in CORES if core not in cores]
    lines = ["## Cortex-M: mnd-c vs TFLM + CMSIS-NN on MobileNets (`make bench`)", "",
             "Instructions per inference (one vww_dev image, `--eval-samples 1`), counted by a QEMU TCG plugin "
             "between markers around the inference (QEMU has no timing model: instructions, not cycles), for the "
             "same int8 .tflite and the same input on the same emulated cores, each from one `mnd export --target "
             "<core> --tflm-source shared/vendor/tflm-cmsis-nn --tflm-runtimes all`: `reference` = the runtime "
             "tflm-reference (TFLM's portable kernels), `CMSIS-NN` = tflm-cmsis-nn (ops without a CMSIS-NN kernel, "
             "e.g. MEAN and HARD_SWISH, fall back to TFLM's reference code), both the export's TFLite-Micro C arrays "
             "in mnd's harness at -O2; mnd-c: the C project the export generates (kernels auto: DSP on m4/m7/m33, "
             "Helium on m55), -O2, in the same harness. Models: the tree's `bench/models/` (MLPerf Tiny VWW; "
             "untrained Keras-Applications MobileNetV2 0.35-96 and MobileNetV3-Small 0.75-96 with PTQ, op mix and "
             "cost only). Every output is compared byte for byte with LiteRT's reference kernels (BUILTIN_REF) on "
             "that input: the manifests' checks.", "",
             f"Host CPU: {cpu_name()}, {os.cpu_count()} logical CPUs ({qemu_version()}; the counts do "
             "not depend on the host). The V3 file's Flatten keeps Keras's dynamic-batch SHAPE/STRIDED_SLICE/PACK "
             "chain: TFLM runs it, mnd-c drops it (shapes are static).", "",
             *table(rows), "", "Goals (mnd-c / (TFLM + CMSIS-NN), measured in this run, outputs bit-exact):",
             *goals(rows)]
    if skipped:
        lines += ["", f"Cores not run this time (MND_BENCH_CORES): {', '.join(skipped)}."]
    return "\n".join(lines)
