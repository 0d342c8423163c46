"""MLPerf Tiny VWW int8 (7.49 M MACs) on each emulated core through the CLI and the runtimes: mnd-c, TFLM with its
reference kernels and TFLM + CMSIS-NN (`--tflm-source` the pinned tree ../shared/vendor/tflm-cmsis-nn, `--tflm-runtimes
all`), from one export per core. Every figure comes from the exports' manifests: instructions and estimated cycles
per inference, the per-layer sums, arena, model-library and firmware flash, and the bit-exact checks.

`python -m tests.bench.run cortex-m-vww` measures all 200 vww_dev images; `--samples N` runs a check on N of them
(printed only, never written into docs/BENCHMARKS.md). MND_BENCH_CORES (space-separated) runs fewer cores."""
import json
import os
import re
import tempfile
from pathlib import Path

from tests.bench.assets import assets_dir
from tests.conftest import REPO, run_mnd

CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
RUNTIMES = (("tflm-reference", "TFLM reference kernels"), ("tflm-cmsis-nn", "TFLM + CMSIS-NN"),
            ("mnd-c", "mnd-c (kernels auto)"))
BASELINE = "tflm-cmsis-nn"  # the ratios' denominator, measured in the same run
MACS = 7_489_664
DEV_IMAGES = 200
VENDOR = REPO.parent / "shared" / "vendor" / "tflm-cmsis-nn"
X_CUBE_AI_M4 = 10_670_000  # MLPerf Tiny VWW record on NUCLEO-L4R5ZI: 88.93 ms at 120 MHz (issue 26)
# Issue 26's bars: (core, runtime, field, limit, label)
BARS = (("cortex-m4", "mnd-c", "cycles_estimated", 10_600_000, "estimated cycles at zero wait states"),
        ("cortex-m55", "mnd-c", "instructions", 3_000_000, "instructions"),
        ("cortex-m4", "mnd-c", "model_flash_bytes", 320 * 1024, "model-library flash B"),
        ("cortex-m4", "mnd-c", "arena_bytes", 57_344, "arena B"))
_DIFFER = re.compile(r"(\d+) of (\d+) samples differ")


def _cores() -> tuple:
    chosen = os.environ.get("MND_BENCH_CORES", "").split()
    return tuple(core for core in CORES if not chosen or core in chosen)


def export(core: str, out: Path, samples: int | None, kernels: str = "auto", tflm: bool = True,
           model: Path | None = None) -> dict:
    """`mnd export` of `model` (default VWW) for `core` on vww_dev (`samples` of its images, else all); the
    manifest."""
    assets = assets_dir()
    run_mnd("export", "--target", core, "--model", model or assets / "mlperf_vww" / "vww_96_int8.tflite",
            "--eval", assets / "vww_dev", *(("--eval-samples", samples) if samples else ()), "--kernels", kernels,
            *(("--tflm-source", VENDOR, "--tflm-runtimes", "all") if tflm else ()), "--out", out,
            timeout=7200, check=0)
    return json.loads((out / "manifest.json").read_text())


def exact_samples(manifest: dict, core: str, runtime: str) -> int | None:
    """How many samples the manifest's passed check '<core> <runtime> vs litert reference' found identical, or None
    where the check is missing or failed."""
    check = next((v for v in manifest["validations"] if v["name"] == f"{core} {runtime} vs litert reference"), None)
    found = _DIFFER.search(check["detail"]) if check else None
    if not check or not check["passed"] or not found or int(found.group(1)):
        return None
    return int(found.group(2))


def layers_sum(row: dict) -> bool:
    """Each per-layer figure summing to the row's total, within the rounding of each layer's mean."""
    slack = len(row["layers"]) // 2 + 1
    return all(abs(sum(layer[field] for layer in row["layers"]) - row[field]) <= slack
               for field in ("instructions", "cycles_estimated"))


def core_rows(manifest: dict, core: str) -> dict:
    """runtime -> the row, with its bit-exact sample count and per-layer check, for the manifest's `core` rows."""
    rows = {}
    for row in manifest["measurements"]:
        if row["target"] == core and row.get("instructions"):
            rows[row["runtime"]] = {**row, "exact_n": exact_samples(manifest, core, row["runtime"]),
                                    "layers_sum": layers_sum(row)}
    return rows


def _ratio(row: dict, baseline: dict | None, field: str) -> str:
    return f"{row[field] / baseline[field]:.2f}x" if baseline and baseline.get(field) else "—"


def _exact(row: dict) -> str:
    return f"{row['exact_n']} / {row['n']}" if row["exact_n"] == row["n"] else "**NOT bit-exact**"


def table(measured: dict) -> list:
    """measured: (core, kernels) -> runtime -> row. One line per core and runtime, ratios against the same core's
    TFLM + CMSIS-NN."""
    lines = ["| core | runtime | instructions / inference | estimated cycles / inference | instructions vs TFLM + "
             "CMSIS-NN | cycles vs TFLM + CMSIS-NN | per MAC | arena B | model-library flash B | firmware flash B | "
             "bit-exact with LiteRT reference (images) | layers sum to totals | accuracy |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for (core, kernels), rows in measured.items():
        baseline = rows.get(BASELINE)
        for runtime, label in RUNTIMES:
            row = rows.get(runtime)
            if row is None:
                continue
            if kernels != "auto":
                label = f"mnd-c (kernels {kernels}: the baseline)"
            lines.append(f"| {core} | {label} | {row['instructions']:,} | {row['cycles_estimated']:,} | "
                         f"{_ratio(row, baseline, 'instructions')} | {_ratio(row, baseline, 'cycles_estimated')} | "
                         f"{row['instructions'] / MACS:.2f} | {row['arena_bytes']:,} | "
                         f"{row['model_flash_bytes']:,} | {row['flash_bytes']:,} | {_exact(row)} | "
                         f"{'yes' if row['layers_sum'] else '**NO**'} | {row['accuracy']:.1%} |")
    return lines


def verdicts(measured: dict) -> list:
    """Issue 26's bars and X-CUBE-AI's record against mnd-c's measured rows."""
    lines = []
    for core, runtime, field, limit, label in BARS:
        row = measured.get((core, "auto"), {}).get(runtime)
        if row is None:
            lines.append(f"- {core} {runtime} {label} <= {limit:,}: not measured in this run")
            continue
        met = row[field] <= limit and row["exact_n"] == row["n"]
        lines.append(f"- {core} {runtime} {label} <= {limit:,}: measured {row[field]:,}: "
                     f"**{'met' if met else 'NOT met'}**")
    m4 = measured.get(("cortex-m4", "auto"), {}).get("mnd-c")
    if m4:
        lines.append(f"- X-CUBE-AI's MLPerf Tiny record on a real Cortex-M4 (NUCLEO-L4R5ZI): 10.67 M cycles (88.93 ms "
                     f"at 120 MHz); mnd-c's estimate on cortex-m4 at zero wait states: "
                     f"{m4['cycles_estimated'] / 1e6:.2f} M, {m4['cycles_estimated'] / X_CUBE_AI_M4:.2f}x of it (an "
                     "estimate against a measurement)")
    return lines


def header(samples: int | None, tree: dict | None) -> list:
    images = f"{samples} vww_dev images (`--eval-samples {samples}`: a check, not the published run)" if samples else \
        f"all {DEV_IMAGES} vww_dev images"
    where = (f"`{tree['layout']}` tree `shared/vendor/tflm-cmsis-nn` (content key {tree['key']}; declared: "
             + ", ".join(f"{name} {commit[:12]}" for name, commit in sorted(tree.get("declared", {}).items())) + ")"
             if tree else "the pinned tree (no TFLM row measured)")
    return ["## Cortex-M: MLPerf Tiny VWW int8 on emulated cores (`make bench`)", "",
            "`mnd export --target <core> --model vww_96_int8.tflite --eval vww_dev --tflm-source "
            f"shared/vendor/tflm-cmsis-nn --tflm-runtimes all` on {images}: per core, mnd-c, TFLM with its reference "
            "kernels and TFLM + CMSIS-NN (the export's TFLite-Micro C arrays in mnd's harness) on the same core, "
            f"images and QEMU; TFLM from the {where}. Executed instructions per inference counted by our QEMU TCG "
            "plugin (QEMU has no timing model); cycles estimated by the same plugin from the cores' published "
            "instruction timings at zero wait states (docs/DESIGN.md: M4 and M33 from the Cortex-M4 TRM, M7 dual "
            "issue and M55 Helium beats approximated), an estimate, not a measurement. `-O2` everywhere. Ratios: "
            "each runtime / TFLM + CMSIS-NN on the same core, in this run. Bit-exact: the manifest's passed check "
            "'<core> <runtime> vs litert reference' and the images it compared. Model-library flash: the model's "
            "code and data and its kernels (mnd-c: model.c + kernels; TFLM: the C array + the TFLM library), from "
            "the linker map by object file, harness and libc/libgcc left out. mnd-c kernels `auto`: DSP extension "
            "on m4/m7/m33, Helium (MVE) on m55; `portable`: plain C99, the baseline, on cortex-m4 in the same run."]


def run(samples: int | None = None) -> str:
    measured, tree = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for core in _cores():
            manifest = export(core, Path(tmp) / core, samples)
            measured[core, "auto"] = core_rows(manifest, core)
            tree = tree or measured[core, "auto"].get(BASELINE, {}).get("tflm_tree")
        if "cortex-m4" in _cores():
            manifest = export("cortex-m4", Path(tmp) / "portable", samples, kernels="portable", tflm=False)
            measured["cortex-m4", "portable"] = {"mnd-c": core_rows(manifest, "cortex-m4")["mnd-c"]}
    skipped = [core for core in CORES if core not in _cores()]
    lines = [*header(samples, tree), "", *table(measured), "", "Bars (issue 26; mnd-c, bit-exact):",
             *verdicts(measured)]
    if skipped:
        lines += ["", f"Cores not run this time (MND_BENCH_CORES): {', '.join(skipped)}."]
    return "\n".join(lines)
