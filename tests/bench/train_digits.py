"""mobilenet_v1_025_32 on the built-in digits, 30 epochs, seeds 0-2, through the real CLI."""
import json
import platform
import tempfile
import time
from pathlib import Path

from tests.conftest import run_mnd

BUDGET_SECONDS = 120
GOAL = 0.93


def run() -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (0, 1, 2):
            out = Path(tmp) / f"seed{seed}"
            started = time.monotonic()
            run_mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--epochs", "30",
                    "--seed", seed, "--out", out, check=0)
            wall = time.monotonic() - started
            manifest = json.loads((out / "manifest.json").read_text())
            rows.append((seed, manifest["last_val_accuracy"], manifest["dataset"]["val_samples"], wall))
    lines = ["## Training: mobilenet_v1_025_32 on digits (30 epochs, `make bench`)", "",
             f"Machine: {platform.machine()}, {_cpus()} cores. Goal: final-epoch validation accuracy "
             f">= {GOAL:.0%} per seed, each run within {BUDGET_SECONDS} s wall (whole CLI run, TF import included).", "",
             "| seed | final val accuracy | n | wall s | wall / budget |", "|---|---|---|---|---|"]
    for seed, accuracy, n, wall in rows:
        lines.append(f"| {seed} | {accuracy:.2%} | {n} | {wall:.1f} | {wall / BUDGET_SECONDS:.2f} |")
    return "\n".join(lines)


def _cpus() -> int:
    import os
    return os.cpu_count() or 0
