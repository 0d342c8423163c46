"""Training throughput of 1 worker against 2 local workers (MultiWorkerMirroredStrategy on 127.0.0.1), the same
global batch, through the real CLI, both measured in one run of this benchmark. On one machine the two workers share
its cores, so the ratio shows the protocol's overhead (collective all-reduce over gRPC, two processes), not a
speed-up: that needs one worker per machine."""
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from mnd.pipeline.environment import cpu_facts
from tests.conftest import MND, run_mnd
from tests.cli.test_train_multiworker import _free_addresses

EPOCHS = 3  # the first epoch (tracing) is left out of the rate
GLOBAL_BATCH = 128
TRAINING = ("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--epochs", str(EPOCHS))


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        run_mnd(*TRAINING, "--out", Path(tmp) / "one", "--batch-size", GLOBAL_BATCH, check=0)
        one = _images_per_second(Path(tmp) / "one")
        workers = _free_addresses(2)
        processes = [subprocess.Popen([str(MND), *TRAINING, "--out", str(Path(tmp) / f"worker{index}"),
                                       "--batch-size", str(GLOBAL_BATCH // 2), "--strategy", "multi-worker",
                                       "--workers", workers, "--task-index", str(index)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for index in (0, 1)]
        if any(process.wait(timeout=900) for process in processes):
            raise RuntimeError("a multi-worker training process failed")
        two = _images_per_second(Path(tmp) / "worker0")
    return "\n".join([
        "## Training throughput: 1 worker vs 2 local workers (`make bench`)", "",
        f"mobilenet_v1_025_32 on digits, global batch {GLOBAL_BATCH} (2 workers: 64 each), epochs 2-{EPOCHS} "
        "(epoch 1 traces the step), images/s over the whole epoch (steps and the validation pass). "
        f"CPU: {cpu_facts()['cpu_model']}, {os.cpu_count()} cores, {platform.machine()}.", "",
        "| setup | images/s |", "|---|---|",
        f"| 1 worker (--strategy default) | {one:.0f} |",
        f"| 2 workers on 127.0.0.1 (--strategy multi-worker) | {two:.0f} |",
        f"| ratio 2 workers / 1 | {two / one:.2f} |", "",
        "Both workers run on the same cores here, so this shows the multi-worker protocol's overhead on one "
        "machine (two processes; each step all-reduces the gradients over gRPC and, batch norm being synchronized, "
        "three small tensors per batch-norm layer forward and back), not a speed-up; one worker per machine is what "
        "scales."])


def _images_per_second(run: Path) -> float:
    manifest = json.loads((run / "manifest.json").read_text())
    timed = manifest["history"][1:]
    images = sum(len(record["step_losses"]) for record in timed) * manifest["distribution"]["global_batch"]
    return images / sum(record["seconds"] for record in timed)

