"""The report's figures: pure functions from manifest data to a matplotlib Figure (Agg canvas, never a display),
and the Figure as a PNG data URI. Every figure with emulated numbers says "emulated" on the plot itself.

Strings from a run directory are shortened and drawn literally (no mathtext), so a hostile one can neither crash
the rendering nor stretch a figure."""
import base64
import functools
import io
import math
from dataclasses import dataclass

import matplotlib
import matplotlib.patches
import matplotlib.text
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mnd.pipeline.report import accuracy_panels
from mnd.pipeline.report.axes import plain_number, scale_note, value_axis
from mnd.pipeline.report.labels import SHORT_OPS, short

LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False}
MAX_BARS = 60
MAX_OPS = 15
EMULATED_LATENCY = "emulated: says nothing about the hardware's speed"
EMULATED_COUNTS = "emulated (QEMU): executed instructions, not cycles"


@dataclass(frozen=True)
class Bar:
    """One measurement in the accuracy and speed plots; n: its evaluation samples (0 or None: unknown)."""
    label: str
    accuracy: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    instructions: int | None
    emulated: bool
    n: int | None = None
    prefix: str = ""
    target: str = ""
    runtime: str = ""
    artifact: str = ""
    threads: int | None = None


def literal_text(build):
    """Run `build` with mathtext and TeX off: every Text it creates draws its string as it is."""
    @functools.wraps(build)
    def built(*args, **kwargs):
        with matplotlib.rc_context(LITERAL_TEXT):
            return build(*args, **kwargs)
    return built


def bar_of(m, prefix: str = "") -> Bar:
    """A Measurement as a Bar labelled by runtime, artifact and threads (and `prefix`, e.g. the run's name)."""
    label = "\n".join(part for part in (short(prefix), f"{short(m.runtime, 30)} · {short(m.artifact, 20)}",
                                        f"{m.threads} thread(s)" if m.threads else "") if part)
    p50 = p90 = None
    if m.latency_ms:
        p50, p90 = m.latency_ms["p50"], m.latency_ms["p90"]
    elif m.benchmark and (m.benchmark.get("inference") or {}).get("median") is not None:
        p50 = m.benchmark["inference"]["median"] / 1000  # benchmark_model: microseconds, no p90
    return Bar(label + (" [emulated]" if m.emulated else ""), _finite(m.accuracy), _finite(p50), _finite(p90),
               m.instructions, m.emulated, m.n or None, prefix, m.target, m.runtime, m.artifact, m.threads)


def _finite(value):
    """The number, or None for a missing, infinite or NaN one (JSON from elsewhere may hold them)."""
    return value if value is not None and math.isfinite(value) else None


@literal_text
def accuracy_speed_figure(bars: list, title: str) -> Figure:
    """Side by side, one row per measurement: accuracy with its Wilson interval, int8 - float with its interval
    (where a float counterpart was measured), latency p50 (p90 marked), executed instructions; the panels with
    any data. The value axes follow pipeline/report/axes.py (log beyond a 10x span, no prefix on ms)."""
    if len(bars) > MAX_BARS:
        title, bars = f"{short(title, 60)} (the first {MAX_BARS} of {len(bars)} measurements)", bars[:MAX_BARS]
    found = accuracy_panels.differences(bars)
    panels = ["accuracy"] if any(b.accuracy is not None for b in bars) else []
    panels += ["difference"] if any(found) else []
    panels += ["latency"] if any(b.latency_p50_ms is not None for b in bars) else []
    panels += ["instructions"] if any(b.instructions is not None for b in bars) else []
    panels = panels or ["accuracy"]
    figure = _new_figure(3.2 + 3.4 * len(panels), 1.9 + 0.42 * len(bars))
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    colours = [_colour(b) for b in bars]
    for ax, panel in zip(axes, panels):
        if panel == "accuracy":
            accuracy_panels.draw_accuracy(ax, bars, colours)
            name = accuracy_panels.ACCURACY_TITLE
        elif panel == "difference":
            accuracy_panels.draw_difference(ax, bars, found)
            name = accuracy_panels.DIFFERENCE_TITLE
        elif panel == "latency":
            name = "latency p50 (ms), ◆ p90" + scale_note(_latency_panel(ax, bars, colours))
        else:
            name = "instructions per inference" + scale_note(_instructions_panel(ax, bars, colours))
        ax.set_title(name + (f"\n{_emulated_note(panel)}" if _emulated_in(panel, bars) else ""), fontsize=9)
    axes[0].set_yticks(list(range(len(bars))), [b.label for b in bars], fontsize=7)
    axes[0].set_ylim(len(bars) - 0.5, -0.5)
    figure.suptitle(short(title, 100) + (" — hatched bars: emulated" if any(b.emulated for b in bars) else ""),
                    fontsize=10)
    if "accuracy" in panels and any(b.accuracy is not None for b in bars):
        figure.supxlabel(accuracy_panels.ERROR_BARS_NOTE, fontsize=7)
    return figure


def _bars(ax, bars: list, heights: list, colours: list):
    drawn = ax.barh(range(len(bars)), [0 if v is None else v for v in heights], color=colours, edgecolor="black",
                    linewidth=0.4)
    for patch, bar in zip(drawn, bars):
        patch.set_hatch("//" if bar.emulated else None)
    return drawn


def _latency_panel(ax, bars: list, colours: list) -> str:
    """p50 bars and p90 diamonds, each value written at its own marker (p50 above the row's centre line, p90
    below it); the scale as set."""
    p50s = [b.latency_p50_ms for b in bars]
    _bars(ax, bars, p50s, colours)
    marks = [(i, b.latency_p90_ms) for i, b in enumerate(bars) if b.latency_p90_ms is not None]
    if marks:
        ax.plot([p90 for _, p90 in marks], [i for i, _ in marks], "kD", markersize=4)
    for i, p50 in enumerate(p50s):
        if p50 is None:
            ax.annotate("—", (0.02, i), xycoords=("axes fraction", "data"), va="center", fontsize=7)
        else:
            ax.annotate(f"p50 {plain_number(p50, 3)}", (p50, i), xytext=(3, 2), textcoords="offset points",
                        va="bottom", fontsize=7)
    for i, p90 in marks:
        ax.annotate(f"p90 {plain_number(p90, 3)}", (p90, i), xytext=(3, -2), textcoords="offset points", va="top",
                    fontsize=7)
    ax.margins(x=0.3)
    return value_axis(ax, "x", p50s + [p90 for _, p90 in marks], unit="ms", room=8)


def _instructions_panel(ax, bars: list, colours: list) -> str:
    counts = [b.instructions for b in bars]
    _bars(ax, bars, counts, colours)
    for i, count in enumerate(counts):
        if count is None:
            ax.annotate("—", (0.02, i), xycoords=("axes fraction", "data"), va="center", fontsize=7)
        else:
            ax.annotate(f"{count:,}", (count, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.margins(x=0.3)
    return value_axis(ax, "x", counts, room=8)


def _colour(bar: Bar) -> str:
    return "#f2b66d" if bar.emulated else "#6d9ef2"


def _emulated_in(panel: str, bars: list) -> bool:
    attribute = {"accuracy": "accuracy", "difference": "accuracy", "instructions": "instructions"}.get(
        panel, "latency_p50_ms")
    return any(b.emulated and getattr(b, attribute) is not None for b in bars)


def _emulated_note(panel: str) -> str:
    if panel in ("accuracy", "difference"):
        return "(emulated rows: the target's code, bit for bit)"
    return f"({EMULATED_COUNTS if panel == 'instructions' else EMULATED_LATENCY})"


@literal_text
def layer_cost_figure(layers: list, title: str, emulated: bool) -> Figure:
    """Per layer: mult-adds above, executed instructions (or a board's DWT cycles) below (same x), coloured by op."""
    figure = _new_figure(max(7.0, 0.28 * len(layers) + 2), 5.5)
    macs_ax, cost_ax = figure.subplots(2, 1, sharex=True)
    positions = range(len(layers))
    ops = sorted({short(layer["op"], 24) for layer in layers})
    colours = {op: matplotlib.colormaps["tab10"](i % 10) for i, op in enumerate(ops)}
    bar_colours = [colours[short(layer["op"], 24)] for layer in layers]
    macs = [layer["macs"] for layer in layers]
    cost = "instructions" if "instructions" in layers[0] else "cycles"
    instructions = [layer[cost] for layer in layers]
    macs_ax.bar(positions, macs, color=bar_colours)
    macs_ax.set_ylabel("mult-adds" + scale_note(value_axis(macs_ax, "y", macs)))
    cost_ax.bar(positions, instructions, color=bar_colours)
    cost_ax.set_ylabel(cost + (" (emulated)" if emulated else "")
                       + scale_note(value_axis(cost_ax, "y", instructions)))
    labels = [f"{layer['index']} {SHORT_OPS.get(layer['op'], short(layer['op'], 12))}" for layer in layers]
    cost_ax.set_xticks(list(positions), labels, rotation=90, fontsize=7)
    handles = [matplotlib.patches.Patch(color=colours[op], label=op) for op in ops[:10]]
    macs_ax.legend(handles=handles, fontsize=7, loc="upper right")
    note = f"\n{EMULATED_COUNTS}" if emulated else ""
    figure.suptitle(short(title, 100) + note, fontsize=10)
    return figure


@literal_text
def op_profile_figure(ops: list, title: str, emulated: bool) -> Figure:
    """A runtime's op profile (LiteRT benchmark_model): average milliseconds per op type, its share marked."""
    ops = sorted(ops, key=lambda op: -op["avg_ms"])[:MAX_OPS]
    figure = _new_figure(8.0, 1.6 + 0.35 * len(ops))
    ax = figure.subplots()
    drawn = ax.barh(range(len(ops)), [op["avg_ms"] for op in ops], color="#6d9ef2")
    ax.bar_label(drawn, labels=[f"{op['percent']:.1f}% ({op.get('times_called', '—')}×)" for op in ops],
                 padding=2, fontsize=7)
    ax.set_yticks(list(range(len(ops))), [short(op["node_type"], 30) for op in ops], fontsize=8)
    ax.invert_yaxis()
    ax.margins(x=0.25)
    scale = value_axis(ax, "x", [op["avg_ms"] for op in ops], unit="ms", room=6)
    ax.set_xlabel("average ms per inference, all nodes of the type" + scale_note(scale))
    note = "\nemulated phone: says nothing about a real phone's speed" if emulated else ""
    figure.suptitle(short(title, 100) + note, fontsize=10)
    return figure


@literal_text
def memory_figure(rows: list, title: str, emulated: bool) -> Figure:
    """RAM and flash, each a bar per (label, ram_parts, flash_parts) row stacked by part, in KiB."""
    figure = _new_figure(9.0, 2.2 + 0.5 * len(rows))
    axes = figure.subplots(1, 2, sharey=True)
    for ax, (name, column) in zip(axes, (("RAM", 1), ("flash", 2))):
        parts = sorted({part for row in rows for part in (row[column] or {})})
        colours = {part: matplotlib.colormaps["tab10"](i % 10) for i, part in enumerate(parts)}
        left = [0.0] * len(rows)
        for part in parts:
            sizes = [(row[column] or {}).get(part, 0) / 1024 for row in rows]
            ax.barh(range(len(rows)), sizes, left=left, color=colours[part], label=short(part, 20))
            left = [a + b for a, b in zip(left, sizes)]
        for i, total in enumerate(left):
            ax.text(total, i, f" {total:.1f}", va="center", fontsize=7)
        ax.set_title(f"{name} (KiB)", fontsize=9)
        value_axis(ax, "x", left, unit="KiB", linear_only=True)  # stacked: the parts add up on a linear axis only
        ax.margins(x=0.2)
        if parts:
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=min(len(parts), 4))
    axes[0].set_yticks(list(range(len(rows))), [short(row[0], 40) for row in rows], fontsize=7)
    axes[0].invert_yaxis()
    note = "\nemulated (QEMU): the firmware's own sizes; RAM includes the stack peak measured there" if emulated else ""
    figure.suptitle(short(title, 100) + note, fontsize=10)
    return figure


@literal_text
def confusion_figure(evaluation: dict) -> Figure:
    """manifest.evaluation as an image: rows true classes, columns predicted, counts written in when few."""
    labels = [short(label, 14) for label in evaluation["labels"]]
    matrix = evaluation["matrix"]
    side = min(12.0, 3.0 + 0.32 * len(labels))
    figure = _new_figure(side + 1.2, side)
    ax = figure.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, shrink=0.8, label="samples")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if len(labels) <= 20:
        brightest = max((n for row in matrix for n in row), default=0) or 1
        for i, row in enumerate(matrix):
            for j, n in enumerate(row):
                if n:
                    ax.text(j, i, str(n), ha="center", va="center", fontsize=7,
                            color="white" if n > brightest / 2 else "black")
    shown = evaluation["classes_shown"]
    elsewhere = sum(evaluation["row_totals"]) - sum(map(sum, matrix))
    subset = "" if shown >= evaluation["classes"] else \
        f"\nthe {shown} most frequent of {evaluation['classes']} true classes ({elsewhere} of their samples " \
        "predicted as a class not shown)"
    figure.suptitle(f"Confusion matrix: {short(evaluation['runtime'], 30)} on {short(evaluation['artifact'], 30)}, "
                    f"{evaluation['samples']} evaluation samples{subset}", fontsize=10)
    return figure


def figure_texts(figure: Figure) -> list:
    """Every text drawn on the figure (titles, labels, ticks, annotations), for checks and alt text."""
    with matplotlib.rc_context(LITERAL_TEXT):
        figure.canvas.draw()
        return [text.get_text() for text in figure.findobj(matplotlib.text.Text) if text.get_text()]


def png_data_uri(figure: Figure, dpi: int = 100) -> str:
    buffer = io.BytesIO()
    with matplotlib.rc_context(LITERAL_TEXT):
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(min(width, 16.0), min(height, 30.0)), layout="constrained")
    FigureCanvasAgg(figure)
    return figure
