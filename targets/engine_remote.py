"""mnd-c on a board or phone through any Transport: run it on inputs already pushed, read its JSON report, pull its
outputs. Shared by the arm64 board and Android targets."""
from pathlib import Path

from mnd.base.errors import MndError
from mnd.base.json_shape import ListOf, Obj
from mnd.targets.board_output import int8_rows, last_json_line, latencies, refuse

ENGINE = "mnd-c"
REPORT_SHAPE = Obj({"engine": str, "samples": int, "input_bytes": int, "output_bytes": int, "arena_bytes": int,
                    "warmup": int, "runs": int, "latencies_ms": ListOf(float)})


class EngineFailed(MndError):
    """mnd-c exited non-zero on the device; the message is its exit status and last stderr line."""


def run_mnd_c(transport, workdir: str, local_dir: Path, *, inputs: str, outputs: str, warmup: int, runs: int,
              timeout: float, board: str, shape: tuple, prefix: tuple = ()) -> tuple:
    """(outputs as int8 rows, latencies in ms) of `./mnd-c INPUTS OUTPUTS WARMUP RUNS` in `workdir`; `prefix` goes
    before it (e.g. taskset MASK); the outputs file is pulled into `local_dir`. `shape`: (samples, values per
    sample) expected back from `board`, which is refused by name when its report or outputs are not that."""
    result = transport.run([*prefix, f"./{ENGINE}", inputs, outputs, str(warmup), str(runs)], cwd=workdir,
                           timeout=timeout)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise EngineFailed(f"exit {result.returncode}: {detail[0][:300]}")
    what = f"{ENGINE}'s report"
    report = last_json_line(result.stdout, board, what, REPORT_SHAPE)
    samples, width = shape
    if (report["samples"], report["output_bytes"], report["runs"]) != (samples, width, runs):
        raise refuse(board, what, f"says {report['samples']} samples of {report['output_bytes']} bytes and "
                                  f"{report['runs']} runs; expected {samples} of {width} and {runs}")
    timed = latencies(report["latencies_ms"], board, what)
    if len(timed) != runs:
        raise refuse(board, what, f"has {len(timed)} latencies for {runs} timed runs")
    transport.pull(workdir, [outputs], local_dir)
    return int8_rows((Path(local_dir) / outputs).read_bytes(), board, outputs, samples, width), timed
