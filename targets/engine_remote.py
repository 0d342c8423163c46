"""mnd-c on a board or phone through any Transport: run it on inputs already pushed, read its JSON report, pull its
outputs. Shared by the arm64 board and Android targets."""
import json
from pathlib import Path

import numpy as np

from mnd.pipeline.errors import MndError

ENGINE = "mnd-c"


class EngineFailed(MndError):
    """mnd-c exited non-zero on the device; the message is its exit status and last stderr line."""


def run_mnd_c(transport, workdir: str, local_dir: Path, *, inputs: str, outputs: str, warmup: int, runs: int,
              timeout: float, prefix: tuple = ()) -> tuple:
    """(outputs as int8 rows, latencies in ms) of `./mnd-c INPUTS OUTPUTS WARMUP RUNS` in `workdir`; `prefix` goes
    before it (e.g. taskset MASK); the outputs file is pulled into `local_dir`."""
    result = transport.run([*prefix, f"./{ENGINE}", inputs, outputs, str(warmup), str(runs)], cwd=workdir,
                           timeout=timeout)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise EngineFailed(f"exit {result.returncode}: {detail[0][:300]}")
    report = json.loads(result.stdout.decode(errors="replace").strip().splitlines()[-1])
    transport.pull(workdir, [outputs], local_dir)
    rows = np.frombuffer((Path(local_dir) / outputs).read_bytes(), np.int8).reshape(report["samples"], -1)
    return rows, report["latencies_ms"]
