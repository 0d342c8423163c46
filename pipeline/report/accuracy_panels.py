"""The accuracy panels of the accuracy-and-speed figure: accuracy per measurement with its Wilson 95% interval on
an axis zoomed to the intervals, and int8 - float (points) with Newcombe's interval for the measurements that have
a float counterpart. Points with error bars, never bars: a bar on a zoomed axis would misstate its length."""
from mnd.pipeline.report.intervals import DIFFERENCE_METHOD, accuracy_bounds, difference_interval

FLOAT_OF = {"tflite_int8": "tflite_float", "tflite_uint8": "tflite_float", "onnx_int8": "onnx_float",
            "onnx_uint8": "onnx_float"}
ACCURACY_TITLE = "accuracy, 95% Wilson interval"
DIFFERENCE_TITLE = "int8 − float (points), 95% interval"
ERROR_BARS_NOTE = ("error bars: 95% intervals; accuracy: Wilson score on each row's n evaluation samples; "
                   f"int8 − float: {DIFFERENCE_METHOD}")


def differences(bars: list) -> list:
    """Per bar: (points, low, high) of its accuracy minus its float counterpart's (same run, target, runtime and
    threads, evaluated on as many samples), None without one or without n."""
    floats = {(b.prefix, b.target, b.runtime, b.threads, b.artifact): b for b in bars}
    found = []
    for bar in bars:
        counterpart = floats.get((bar.prefix, bar.target, bar.runtime, bar.threads, FLOAT_OF.get(bar.artifact)))
        interval = None
        if counterpart is not None and None not in (bar.accuracy, counterpart.accuracy) and bar.n == counterpart.n:
            interval = difference_interval(bar.accuracy, bar.n, counterpart.accuracy, counterpart.n)
        found.append(None if interval is None else
                     (100 * (bar.accuracy - counterpart.accuracy), 100 * interval[0], 100 * interval[1]))
    return found


def draw_accuracy(ax, bars: list, colours: list) -> None:
    """Accuracy (%) per row with Wilson error bars, each labelled at its own point; x zoomed to the intervals."""
    ends = []
    for i, (bar, colour) in enumerate(zip(bars, colours)):
        if bar.accuracy is None:
            ax.annotate("—", (0.02, i), xycoords=("axes fraction", "data"), va="center", fontsize=7)
            continue
        value = 100 * bar.accuracy
        interval = accuracy_bounds(bar.accuracy, bar.n)
        low, high = (value, value) if interval is None else (100 * interval[0], 100 * interval[1])
        ax.errorbar([value], [i], xerr=[[value - low], [high - value]], fmt="o", color=colour, ecolor="black",
                    elinewidth=1, capsize=3, markersize=5, markeredgecolor="black", markeredgewidth=0.4)
        label = f"{value:.1f}%" + (f" [{low:.1f}, {high:.1f}]" if interval else " (n unknown)")
        ax.annotate(label, (value, i), xytext=(0, 5), textcoords="offset points", ha="center", va="bottom",
                    fontsize=7)
        ends += [low, high]
    if ends:
        _zoom(ax, min(ends), max(ends), 0.0, 100.0)
    ax.set_xlabel("top-1 (%)", fontsize=8)


def draw_difference(ax, bars: list, found: list) -> None:
    """int8 - float (points) per row with its interval, labelled at its own point; a line at zero."""
    ends = [0.0]
    for i, (bar, difference) in enumerate(zip(bars, found)):
        if difference is None:
            continue
        value, low, high = difference
        ax.errorbar([value], [i], xerr=[[value - low], [high - value]], fmt="D", color="#444444", elinewidth=1,
                    capsize=3, markersize=4)
        ax.annotate(f"{value:+.1f} [{low:+.1f}, {high:+.1f}]", (value, i), xytext=(0, 5), textcoords="offset points",
                    ha="center", va="bottom", fontsize=7)
        ends += [low, high]
    ax.axvline(0, color="black", linewidth=0.6)
    _zoom(ax, min(ends), max(ends), -100.0, 100.0)
    ax.set_xlabel("points", fontsize=8)


def _zoom(ax, low: float, high: float, floor: float, ceiling: float) -> None:
    """x limits around [low, high] with room for the labels, inside [floor, ceiling]."""
    pad = max(0.5, 0.25 * (high - low))
    ax.set_xlim(max(floor, low - pad), min(ceiling, high + pad))
