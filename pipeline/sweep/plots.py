"""The sweep report's figures (matplotlib, Agg canvas, never a display), each as a PNG data URI. Numbers from an
emulator say so on the plot itself."""
import base64
import io

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from mnd.pipeline.report.axes import scale_note, value_axis
from mnd.pipeline.report.intervals import accuracy_bounds

LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False}
EMULATED_COUNTS = "emulated (QEMU): executed instructions, not cycles or time"
EMULATED_LATENCY = "emulated: latency says nothing about the hardware's speed"
MEMORY_SERIES = (("int8_bytes", "int8 model (.tflite)"), ("ram_bytes", "RAM"), ("flash_bytes", "flash"))


def cost_figure(rows: list, target: str) -> Figure | None:
    """Instructions (emulated cores) or p50 latency against mult-adds, one line per alpha."""
    counted = [row for row in rows if row["instructions"] is not None]
    metric, label, unit = ("instructions", "instructions per inference", None) if counted else \
        ("latency_ms_p50", "p50 latency per inference (ms)", "ms")
    points = [row for row in rows if row[metric] is not None]
    if not points:
        return None
    figure, axes = _figure(7.5, 4.8)
    _lines_per_alpha(axes, points, "mult_adds", metric)
    axes.set_xlabel("mult-adds" + scale_note(value_axis(axes, "x", [row["mult_adds"] for row in points])))
    axes.set_ylabel(label + scale_note(value_axis(axes, "y", [row[metric] for row in points], unit)))
    axes.set_title(f"{'Instructions' if counted else 'Latency'} vs mult-adds on {target}")
    if any(row["emulated"] for row in points):
        _stamp(axes, EMULATED_COUNTS if counted else EMULATED_LATENCY)
    return figure


def memory_figure(rows: list, target: str, limits: list) -> Figure | None:
    """int8 model bytes, RAM and flash per variant (those the target measured), with the limits as lines."""
    series = [(key, name) for key, name in MEMORY_SERIES if any(row[key] is not None for row in rows)]
    if not rows or not series:
        return None
    figure, axes = _figure(max(7.5, 0.55 * len(rows) * len(series)), 4.8)
    width = 0.8 / len(series)
    plotted = []
    for offset, (key, name) in enumerate(series):
        xs = [i + (offset - (len(series) - 1) / 2) * width for i in range(len(rows))]
        kib = [(row[key] or 0) / 1024 for row in rows]
        axes.bar(xs, kib, width, label=name)
        plotted += kib
    lines = _limit_lines(limits)
    scale = value_axis(axes, "y", plotted + [kib for kib, _, _ in lines], "KiB")
    for kib, names, hard in lines:
        axes.axhline(kib, linestyle="--", linewidth=1, color="black" if hard else "tab:red")
        axes.annotate(names, (len(rows) - 0.5, kib), fontsize=7, ha="right", va="bottom")
    axes.set_xticks(range(len(rows)), [f"{row['alpha']:g} / {row['resolution']}" for row in rows], rotation=45,
                    ha="right", fontsize=8)
    axes.set_xlabel("alpha / resolution")
    axes.set_ylabel("KiB" + scale_note(scale))
    axes.set_title(f"Memory per variant on {target}")
    axes.legend(fontsize=8)
    if any(row["emulated"] for row in rows if row["ram_bytes"] is not None):
        _stamp(axes, "RAM and flash: firmware built for the emulated core (RAM includes the stack peak in QEMU)")
    return figure


def accuracy_figure(rows: list, x: str, title: str) -> Figure | None:
    """Float and int8 accuracy against mult-adds (paper Figure 4) or parameters (Figure 5), each point with its
    Wilson 95% error bar on the row's eval_samples (none where a row does not record n: said on the plot); float
    drawn 3 points left of its x, int8 3 points right, so that their bars do not hide each other."""
    points = [row for row in rows if row["int8_acc"] is not None or row["float_acc"] is not None]
    if not points:
        return None
    figure, axes = _figure(7.5, 4.8)
    colours = _alpha_colours(points)
    unknown = False
    for row in points:
        colour = colours[row["alpha"]]
        for key, style, shift in (("float_acc", {"fmt": "o", "markerfacecolor": "none", "markeredgecolor": colour}, -3),
                                  ("int8_acc", {"fmt": "x", "color": colour}, 3)):
            if row[key] is not None:
                style = {**style, "transform": offset_copy(axes.transData, figure, x=shift, units="points")}
                unknown |= _accuracy_point(axes, row[x], row[key], row.get("eval_samples"), colour, style)
        axes.annotate(str(row["resolution"]), (row[x], 100 * (row["int8_acc"] or row["float_acc"])), fontsize=7,
                      xytext=(4, -8), textcoords="offset points")
    for alpha, colour in colours.items():
        axes.scatter([], [], marker="s", color=colour, label=f"alpha {alpha:g}")
    axes.scatter([], [], marker="o", facecolors="none", edgecolors="grey", label="float")
    axes.scatter([], [], marker="x", color="grey", label="int8")
    axes.autoscale_view()
    scale = value_axis(axes, "x", [row[x] for row in points], room=1.6)
    axes.set_xlabel(("mult-adds" if x == "mult_adds" else "parameters") + scale_note(scale))
    axes.set_ylabel("top-1 accuracy (%), 95% Wilson interval")
    axes.set_title(title)
    axes.legend(fontsize=8)
    if unknown:
        _stamp(axes, "no error bar: the row does not record its number of evaluation samples (n unknown)")
    return figure


def _accuracy_point(axes, x: float, accuracy: float, n: int | None, colour: str, style: dict) -> bool:
    """One accuracy point (%) with its Wilson error bar; True where n is unknown (no bar drawn)."""
    value = 100 * accuracy
    interval = accuracy_bounds(accuracy, n)
    error = [[0.0], [0.0]] if interval is None else [[value - 100 * interval[0]], [100 * interval[1] - value]]
    axes.errorbar([x], [value], yerr=error, ecolor=colour, elinewidth=0.8, capsize=2, **style)
    axes.update_datalim([(x, value - error[0][0]), (x, value + error[1][0])])  # shifted lines do not count
    return interval is None


def png_data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    with matplotlib.rc_context(LITERAL_TEXT):
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _lines_per_alpha(axes, rows: list, x: str, y: str) -> None:
    colours = _alpha_colours(rows)
    for alpha, colour in colours.items():
        line = sorted((row for row in rows if row["alpha"] == alpha), key=lambda row: row[x])
        axes.plot([row[x] for row in line], [row[y] for row in line], marker="o", color=colour,
                  label=f"alpha {alpha:g}")
        for row in line:
            axes.annotate(str(row["resolution"]), (row[x], row[y]), fontsize=7, xytext=(4, 4),
                          textcoords="offset points")
    axes.legend(fontsize=8)


def _limit_lines(limits: list) -> list:
    """(KiB, names, hard) per dashed line; limits within 3% of each other share one line and one label."""
    lines = []
    for limit in sorted(limits, key=lambda limit: limit.bytes):
        kib = limit.bytes / 1024
        if lines and kib <= lines[-1][0] * 1.03:
            lines[-1] = (lines[-1][0], f"{lines[-1][1]}, {limit.source}", lines[-1][2] or limit.hard)
        else:
            lines.append((kib, limit.source, limit.hard))
    return lines


def _alpha_colours(rows: list) -> dict:
    alphas = sorted({row["alpha"] for row in rows}, reverse=True)
    return {alpha: f"C{i % 10}" for i, alpha in enumerate(alphas)}


def _stamp(axes, text: str) -> None:
    axes.text(0.01, 0.99, text, transform=axes.transAxes, ha="left", va="top", fontsize=8, color="tab:red",
              bbox={"facecolor": "white", "edgecolor": "tab:red", "alpha": 0.85})


def _figure(width: float, height: float):
    with matplotlib.rc_context(LITERAL_TEXT):
        figure = Figure(figsize=(min(width, 16.0), height), layout="constrained")
        FigureCanvasAgg(figure)
        return figure, figure.add_subplot()
