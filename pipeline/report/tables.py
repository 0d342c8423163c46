"""Table rows shared by the report's sections: accuracy and latency per runtime."""
from mnd.base.runtimes.sandbox import RUNTIME_LABELS
from mnd.pipeline.report.escape import text
from mnd.pipeline.report.intervals import accuracy_interval

RUNTIME_LABELS_BOARD = {**RUNTIME_LABELS, "mnd-c": "mnd C engine (static executable)"}


def milliseconds(latency, key) -> str:
    return "—" if not latency else f"{latency[key]:.3f}"


def measurement_table(measurements, sizes: dict, where: str | None = None) -> list:
    """`where`: a last column naming where each row ran ("emulated (QEMU cortex-a72)", "board"), followed by the
    row's board when several measured the export (--ssh given more than once)."""
    lines = ["| artifact | runtime | bytes | accuracy [95% interval] | n | p50 ms | p90 ms | runs | threads |"
             + (" ran on |" if where else ""),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if where else "")]
    for m in measurements:
        lines.append(f"| {text(m.artifact)} | {text(RUNTIME_LABELS_BOARD.get(m.runtime, m.runtime))} | "
                     f"{sizes.get(m.artifact, 0):,} | {accuracy_interval(m.accuracy, m.n)} | {m.n} | "
                     f"{milliseconds(m.latency_ms, 'p50')} | {milliseconds(m.latency_ms, 'p90')} | {m.runs} | "
                     f"{m.threads or '—'} |" + (f" {text(_ran_on(where, m))} |" if where else ""))
    return lines


def _ran_on(where: str, m) -> str:
    return f"{where}: {m.board}" if m.board else where
