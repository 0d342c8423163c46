"""Instructions per inference for MLPerf Tiny VWW int8 (7.49 M MACs) on each emulated core, through the CLI."""
import json
import os
import tempfile
from pathlib import Path

from tests.conftest import run_mnd

CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
MACS = 7_489_664
TFLM_REFERENCE_M4 = 100_200_000  # TFLM's reference kernels on the same QEMU (issue figure)
FIRST_GOAL_M4 = 40_000_000


def _assets() -> Path:
    return Path(os.environ.get("MND_ASSETS", Path(__file__).resolve().parents[3] / "shared" / "assets"))


def run() -> str:
    assets = _assets()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for core in CORES:
            out = Path(tmp) / core
            run_mnd("export", "--target", core, "--model", assets / "mlperf_vww" / "vww_96_int8.tflite",
                    "--eval", assets / "vww_dev", "--out", out, check=0)
            manifest = json.loads((out / "manifest.json").read_text())
            m = next(m for m in manifest["measurements"] if m["target"] == core)
            rows.append((core, m))
    lines = ["## Cortex-M: MLPerf Tiny VWW int8 on emulated cores (`make bench`)", "",
             "`mnd export --target <core> --model vww_96_int8.tflite --eval vww_dev`: all 200 images, every output "
             "bit-exact with LiteRT's reference kernels. Executed instructions per inference counted by our QEMU TCG "
             "plugin (QEMU 7.2 has no timing model: instructions, not cycles). Plain C kernels, `-O2`.", "",
             "| core | instructions / inference | per MAC | vs TFLM reference kernels on M4 (100.2 M) | "
             "arena B (floor 55,296; TFLM 32-bit 100,660) | RAM B | flash B | accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    for core, m in rows:
        lines.append(f"| {core} | {m['instructions']:,} | {m['instructions'] / MACS:.2f} | "
                     f"{m['instructions'] / TFLM_REFERENCE_M4:.2f} | {m['arena_bytes']:,} | {m['ram_bytes']:,} | "
                     f"{m['flash_bytes']:,} | {m['accuracy']:.1%} (n={m['n']}) |")
    m4 = dict(rows)["cortex-m4"]["instructions"]
    lines += ["", f"First goal (M4, plain C): <= {FIRST_GOAL_M4 / 1e6:.0f} M instructions: measured "
              f"{m4 / 1e6:.1f} M = {m4 / FIRST_GOAL_M4:.2f} of the goal. Project goal (later issue): <= 8 M on M4, "
              "<= 2.5 M on M55."]
    return "\n".join(lines)
