"""Instructions and estimated cycles per inference for MLPerf Tiny VWW int8 (7.49 M MACs) on each emulated core,
through the CLI."""
import json
import tempfile
from pathlib import Path

from tests.conftest import run_mnd
from tests.bench.assets import assets_dir

CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
MACS = 7_489_664
TFLM_REFERENCE_M4 = 100_200_000  # TFLM's reference kernels on the same QEMU (issue figure)
FIRST_GOAL_M4 = 40_000_000
GOALS = {"cortex-m4": 12_000_000, "cortex-m55": 4_000_000}  # the DSP/Helium issue's bars
X_CUBE_AI_M4 = 10_670_000  # MLPerf Tiny VWW record on NUCLEO-L4R5ZI: 88.93 ms at 120 MHz (issue 26)



def run() -> str:
    assets = assets_dir()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for core, kernels in [(core, "auto") for core in CORES] + [("cortex-m4", "portable")]:
            out = Path(tmp) / f"{core}-{kernels}"
            run_mnd("export", "--target", core, "--model", assets / "mlperf_vww" / "vww_96_int8.tflite",
                    "--eval", assets / "vww_dev", "--kernels", kernels, "--out", out, check=0)
            manifest = json.loads((out / "manifest.json").read_text())
            m = next(m for m in manifest["measurements"] if m["target"] == core)
            rows.append((core, kernels, m))
    lines = ["## Cortex-M: MLPerf Tiny VWW int8 on emulated cores (`make bench`)", "",
             "`mnd export --target <core> --model vww_96_int8.tflite --eval vww_dev`: all 200 images, every output "
             "bit-exact with LiteRT's reference kernels. Executed instructions per inference counted by our QEMU TCG "
             "plugin (QEMU 7.2 has no timing model: instructions, not cycles); cycles estimated by the same plugin from "
             "the cores' published instruction timings at zero wait states (docs/DESIGN.md: M4 and M33 from the "
             "Cortex-M4 TRM, M7 dual issue and M55 Helium beats approximated), an estimate, not a measurement. `-O2`. Kernels `auto`: on cortex-m4/m7/m33 "
             "the DSP-extension kernels (SXTB16/SMLAD, kernels_conv_dsp.c, kernels_depthwise_dsp.c) for convolutions and 3x3 depthwise layers, on "
             "cortex-m55 the Helium (MVE) kernels (kernels_*_mve.c: convolutions, 3x3 depthwise, average pooling), "
             "portable C99 for the rest; `portable` (`--kernels portable`): plain C99 only, the baseline, measured in the same run.", "",
             "| core | kernels | instructions / inference | per MAC | vs TFLM reference kernels on M4 (100.2 M) | "
             "estimated cycles / inference | arena B (floor: 55,296 + the kernels' scratch; TFLM 32-bit 100,660) | "
             "RAM B | flash B | accuracy |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for core, kernels, m in rows:
        lines.append(f"| {core} | {kernels} | {m['instructions']:,} | {m['instructions'] / MACS:.2f} | "
                     f"{m['instructions'] / TFLM_REFERENCE_M4:.2f} | {m['cycles_estimated']:,} | "
                     f"{m['arena_bytes']:,} | {m['ram_bytes']:,} | "
                     f"{m['flash_bytes']:,} | {m['accuracy']:.1%} (n={m['n']}) |")
    counts = {(core, kernels): m["instructions"] for core, kernels, m in rows}
    m4, portable = counts["cortex-m4", "auto"], counts["cortex-m4", "portable"]
    cycles_m4 = next(m["cycles_estimated"] for core, kernels, m in rows if (core, kernels) == ("cortex-m4", "auto"))
    met = {core: counts[core, "auto"] <= goal for core, goal in GOALS.items()}
    lines += ["", f"DSP kernels on M4: {m4 / 1e6:.2f} M instructions, {m4 / portable:.2f} of the portable "
              f"kernels' {portable / 1e6:.1f} M. Bars: "
              + ", ".join(f"{core} <= {goal / 1e6:.0f} M (measured {counts[core, 'auto'] / 1e6:.2f} M: "
                          f"{'met' if met[core] else 'NOT met'})" for core, goal in GOALS.items()) + ".",
              "", f"Estimated cycles on M4 at zero wait states: {cycles_m4 / 1e6:.2f} M, "
              f"{cycles_m4 / X_CUBE_AI_M4:.2f}x X-CUBE-AI's MLPerf Tiny record on a real Cortex-M4 (10.67 M cycles: "
              "88.93 ms at 120 MHz); an estimate against a measurement."]
    return "\n".join(lines)
