"""`mnd export` wall time for mobilenet_v1_025_96 (training not timed: a 1-epoch model is cached first), 200 calibration + 200 evaluation samples."""
import json
import tempfile
import time
from pathlib import Path

from tests.conftest import run_mnd

BUDGET_SECONDS = 30


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        cache = {"MND_CACHE": str(Path(tmp) / "cache")}
        # Warm the model cache first: the benchmark times the export, not the creation of the untrained model.
        run_mnd("export", "--model", "mobilenet_v1_025_96", "--train-epochs", "1", "--out", Path(tmp) / "warm",
                "--calib-samples", "10", "--eval-samples", "10", "--runs", "1", "--allow-drift", env=cache, check=0)
        started = time.monotonic()
        out = Path(tmp) / "run"
        run_mnd("export", "--model", "mobilenet_v1_025_96", "--train-epochs", "1", "--out", out,
                "--calib-samples", "200", "--eval-samples", "200", "--runs", "100", "--warmup", "10",
                "--allow-drift", env=cache, check=0)
        wall = time.monotonic() - started
        manifest = json.loads((out / "manifest.json").read_text())
    lines = ["## Export wall time: mobilenet_v1_025_96, training not timed (`make bench`)", "",
             f"Whole `mnd export --target host` CLI run (TF import included): {manifest['quantization']['calibration_samples']} "
             f"calibration and {manifest['data']['evaluation']['samples']} evaluation samples, six runtime/artifact "
             f"pairs x (10 warm-up + 100 timed runs). Budget {BUDGET_SECONDS} s on 2 cores.", "",
             "| wall s | budget s | wall / budget |", "|---|---|---|",
             f"| {wall:.1f} | {BUDGET_SECONDS} | {wall / BUDGET_SECONDS:.2f} |",
             "", "The 1-epoch model's accuracy is beside the point here; `--allow-drift` keeps the run whatever its accuracy drop."]
    return "\n".join(lines)
