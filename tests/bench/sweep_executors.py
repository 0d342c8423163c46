"""Wall time of one 8-variant cost-only host sweep run three ways through the real CLI: `--executor local --jobs 1`
(in the mnd process), `--jobs 2` (a process pool of 2) and `--executor ray --jobs 2` (a local Ray started for the
run, 2 CPUs), each in a new folder, all in one run of this benchmark. Host latencies are timed, so the parallel runs'
own rows are slower per variant; the wall time of the whole sweep is what is compared."""
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from mnd.pipeline.environment import cpu_facts
from tests.conftest import run_mnd

SIDES = (32, 40, 48, 56, 64, 72, 80, 88)
SETUPS = (("local, --jobs 1", ("--jobs", "1")), ("local, --jobs 2", ("--jobs", "2")),
          ("ray (local instance), --jobs 2", ("--executor", "ray", "--jobs", "2")))


def run(sides: tuple = SIDES) -> str:
    grid = ("--cost-only", "--target", "host", "--alpha", "0.25", "--resolution", ",".join(map(str, sides)),
            "--classes", "10", "--channels", "1", "--runs", "20", "--warmup", "2")
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, options) in enumerate(SETUPS):
            out = Path(tmp) / f"sweep{index}"
            start = time.monotonic()
            run_mnd("sweep", *grid, *options, "--out", out, check=0)
            seconds[name] = time.monotonic() - start
            rows = json.loads((out / "sweep.json").read_text())["rows"]
            if len(rows) != len(sides) or any(row["status"] != "measured" for row in rows):
                raise RuntimeError(f"{name}: not every variant was measured")
    base = seconds[SETUPS[0][0]]
    lines = [f"| {name} | {value:.0f} | {base / value:.2f} |" for name, value in seconds.items()]
    return "\n".join([
        "## Sweep executors: local --jobs 1 vs --jobs 2 vs Ray (`make bench`)", "",
        f"`mnd sweep --cost-only --target host`, alpha 0.25 x {len(sides)} sides ({sides[0]}-{sides[-1]}), 10 "
        "classes, 1 channel, 20 timed runs per variant; wall time of the whole command (TensorFlow's start, the "
        f"workers' and Ray's included). CPU: {cpu_facts()['cpu_model']}, {os.cpu_count()} cores, "
        f"{platform.machine()}.", "",
        "| executor | wall s | speed-up vs --jobs 1 |", "|---|---|---|", *lines, "",
        "Each worker process (pool or Ray) loads TensorFlow once; with as many workers as cores the variants' "
        "exports overlap, while their host latencies, timed side by side, are each slower (the default --jobs for "
        "the host target is 1 for that reason)."])
