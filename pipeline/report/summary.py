"""The answer first: report.md's Summary block (model, data and n, target, accuracy with its 95% interval and speed
per runtime, RAM/flash and the fit verdict, the validation verdict, warnings, the next command), and the same key
lines for the terminal (`mnd export`, `mnd measure`). Pure functions of the manifest."""
from dataclasses import dataclass

from mnd.base.control_chars import visible
from mnd.pipeline.manifest import agreement_notes
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.fit import fit_line
from mnd.pipeline.report.intervals import accuracy_interval

ACCURACY_HEADING = "accuracy [95% interval]"


@dataclass(frozen=True)
class RuntimeRow:
    """One runtime on one artifact and target; its thread counts' latencies in one cell (accuracy does not depend
    on them)."""
    target: str
    runtime: str
    artifact: str
    accuracy: str  # accuracy_interval's text, "; "-joined should thread counts disagree
    n: str
    speed: str
    memory: str | None  # "RAM / flash" bytes, where an emulated firmware was measured
    failed: str = ""    # failed_note: the row's own failed checks, shown beside its accuracy (from the manifest)


def failed_checks(m, validations) -> list:
    """The row's own gated checks that failed and were kept with --allow-drift: those named "TARGET RUNTIME vs ..."
    (a tflm-cmsis-nn row's bit-exactness with LiteRT's reference, an android engine's)."""
    prefix = f"{m.target} {m.runtime} vs "
    return [v for v in validations if v.gated and not v.passed and v.name.startswith(prefix)]


def failed_note(failed: list) -> str:
    """The words beside a row's accuracy when its own checks failed ("" when none did)."""
    return "".join(f" — FAILED {v.name}: {v.detail} (kept with --allow-drift)" for v in failed)


def runtime_rows(manifest) -> list:
    groups = {}
    for m in manifest.measurements:
        groups.setdefault((m.target, m.runtime, m.artifact, m.probe is not None), []).append(m)
    rows = []
    for (target, runtime, artifact, probed), measured in groups.items():
        target = f"{target} ({measured[0].probe['board']} via probe)" if probed else target
        accuracies = [accuracy_interval(m.accuracy, m.n) for m in measured if m.accuracy is not None and m.n]
        failed = [v for m in measured for v in failed_checks(m, manifest.validations)]
        sized = [m for m in measured if m.ram_bytes is not None or m.flash_bytes is not None]
        rows.append(RuntimeRow(target + (" (emulated)" if any(m.emulated for m in measured) else ""), runtime,
                               artifact, "; ".join(dict.fromkeys(accuracies)) or "—",
                               "; ".join(dict.fromkeys(str(m.n) for m in measured if m.n)) or "—",
                               "; ".join(_speed(m) for m in measured),
                               f"{_bytes(sized[0].ram_bytes)} / {_bytes(sized[0].flash_bytes)}" if sized else None,
                               failed_note(list(dict.fromkeys(failed)))))
    return rows


def _bytes(value) -> str:
    return "—" if value is None else f"{value:,}"


def _speed(m) -> str:
    threads = "" if m.threads is None else f", {m.threads} thread{'s' if m.threads != 1 else ''}"
    if m.latency_ms:
        return f"{m.latency_ms['p50']:.3f} / {m.latency_ms['p90']:.3f} ms{threads}"
    if m.instructions is not None:
        cycles = f", {m.cycles_estimated:,} cycles (estimated)" if m.cycles_estimated is not None else ""
        return f"{m.instructions:,} instructions{cycles}"
    if m.probe is not None:
        return "no cycle counter on the board"
    benchmark = m.benchmark or {}
    stats = benchmark.get("inference") or {}
    for key, value in (("median", stats.get("median")), ("avg", stats.get("avg") or benchmark.get("inference_avg_us"))):
        if value is not None:
            return f"{value / 1000:.3f} ms {key} (benchmark_model{threads})"
    return "—"


def validation_verdict(manifest) -> str:
    gated = [v for v in manifest.validations if v.gated]
    failed = [v.name for v in gated if not v.passed]
    informational = len(manifest.validations) - len(gated)
    info = f" ({informational} informational)" if informational else ""
    if failed:
        return f"FAILED: {', '.join(failed)} (kept with --allow-drift){info}"
    if not gated:
        return f"no gated checks{info}"
    return f"all {len(gated)} gated checks pass{info}"


def fit_verdict(manifest) -> str | None:
    """Whether the measured firmware fits the chosen part (`--board`), when there is one."""
    part = (manifest.target or {}).get("part")
    return fit_line(part, basis=False) if part else None


def _board(board: dict | None) -> str | None:
    if not board:
        return None
    if board.get("qemu_cpu"):
        return f"emulated {board.get('machine')} (QEMU_CPU={board['qemu_cpu']})"
    name = " ".join(str(board[key]) for key in ("manufacturer", "model") if board.get(key)) or board.get("machine")
    return None if not name else str(name) + (" (emulated)" if board.get("emulated") else "")


def _target_words(manifest) -> tuple:
    """(target name, [part and board words])."""
    target = manifest.target or {}
    part, board = target.get("part"), _board(target.get("board"))
    extra = ([f"part {part['board']} ({part['part']}, {part['core']})"] if part else []) + \
        ([f"board {board}"] if board else [])
    return target.get("name", "—"), extra


def summary_markdown(manifest, next_line: str) -> list:
    """Markdown lines of the Summary section; `next_line`: the next command, already Markdown."""
    model, evaluation = manifest.model, manifest.data["evaluation"]
    target, extra = _target_words(manifest)
    lines = ["## Summary", "",
             f"- model: {code(model['name'])}, input {'×'.join(str(side) for side in model['input_shape'])}, "
             f"{model['classes']} classes",
             f"- data: {text(evaluation['samples'])} evaluation samples from {code(evaluation['source'])} "
             f"({text(evaluation['part'])})",
             f"- target: {code(target)}" + "".join(f"; {text(word)}" for word in extra)]
    rows = runtime_rows(manifest)
    if rows:
        lines += ["", *_table(rows), ""]
    verdict = validation_verdict(manifest)
    lines.append("- validation: " + (f"**FAILED**: {text(verdict.removeprefix('FAILED: '))}"
                                     if verdict.startswith("FAILED") else text(verdict)))
    fit = fit_verdict(manifest)
    if fit:
        lines.append(f"- fit: {text(fit)}")
    lines += [f"- warning: {text(warning)}" for warning in warnings(manifest)]
    return lines + [f"- next: {next_line}", ""]


def _table(rows: list) -> list:
    several_targets = len({row.target for row in rows}) > 1
    sized = any(row.memory for row in rows)
    head = (["target"] if several_targets else []) + ["runtime", "artifact", ACCURACY_HEADING, "n",
                                                      "p50 / p90 latency, or instructions"] + \
        (["RAM / flash bytes"] if sized else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    names = 3 if several_targets else 2  # the cells from the manifest (escaped); the rest are numbers formatted here
    for row in rows:
        accuracy = row.accuracy + text(row.failed)
        cells = ([row.target] if several_targets else []) + [row.runtime, row.artifact, accuracy, row.n,
                                                             row.speed] + ([row.memory or "—"] if sized else [])
        lines.append("| " + " | ".join(text(cell) if index < names else cell for index, cell in enumerate(cells))
                     + " |")
    return lines


def warnings(manifest) -> list:
    """The manifest's warnings, then the measurements' agreement notes not already among them."""
    return list(manifest.warnings) + [note for note in agreement_notes(manifest.measurements)
                                      if note not in manifest.warnings]


def terminal_lines(manifest) -> list:
    """The summary's key lines as plain text for the log: accuracy [interval] and speed per runtime, the fit and
    validation verdicts."""
    evaluation = manifest.data["evaluation"]
    target, extra = _target_words(manifest)
    lines = [visible(f"{manifest.model['name']} on {target}" + "".join(f"; {word}" for word in extra)
                     + f"; {evaluation['samples']} evaluation samples from {evaluation['source']} "
                       f"({evaluation['part']})")]
    for row in runtime_rows(manifest):
        memory = f"; RAM / flash {row.memory} B" if row.memory else ""
        accuracy = "no accuracy (timings only)" if row.accuracy == "—" else f"accuracy {row.accuracy} (n={row.n})"
        accuracy += row.failed
        lines.append(visible(f"  {row.target} {row.runtime} on {row.artifact}: {accuracy}; {row.speed}{memory}"))
    fit = fit_verdict(manifest)
    if fit:
        lines.append(visible(f"fit: {fit}"))
    lines.append(visible(f"validation: {validation_verdict(manifest)}"))
    return lines
