"""How every figure draws a value axis: one scale rule and one tick rule for all of them.

Scale: log where the positive values plotted span more than LOG_SPAN (latency, instructions, mult-adds, sizes),
linear otherwise, so a 0.05 ms runtime next to a 13 ms one is not a sliver. Ticks: a bare count (no unit) may carry
an SI prefix ("500 k"); an axis whose label has a unit (ms, KiB, %...) gets plain numbers in that unit ("0.03"),
since a prefix on top of one ("30 m" ms) reads as a different unit."""
import math

from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, NullFormatter

LOG_SPAN = 10.0
SIGNIFICANT = 6


def log_scale_fits(values) -> bool:
    """True where the positive finite values span more than LOG_SPAN (max / min); zeros and gaps are ignored."""
    positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return len(positive) >= 2 and max(positive) / min(positive) > LOG_SPAN


def tick_formatter(unit: str | None):
    """EngFormatter for a bare count, plain numbers in the unit for any axis whose label names one."""
    return EngFormatter() if not unit else FuncFormatter(lambda value, _: plain_number(value))


def value_axis(ax, which: str, values, unit: str | None = None, linear_only: bool = False,
               room: float = 1.6) -> str:
    """Scale and ticks of `ax`'s `which` ("x" or "y") axis for `values`; "log" or "linear", as set.
    `linear_only`: stacked bars, whose parts add up only on a linear axis. On a log axis the limits are set from
    the positive values (bars drawn from 0 would stretch it down), `room` times the largest above for labels."""
    scale = "log" if log_scale_fits(values) and not linear_only else "linear"
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)(scale)
    if scale == "log":
        positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
        low, high = min(positive) / 1.6, max(positive) * room
        crowded = math.log10(high / low) > 2.5
        axis.set_major_locator(LogLocator(base=10, subs=(1.0,) if crowded else (1.0, 2.0, 5.0)))
        axis.set_minor_formatter(NullFormatter())
        (ax.set_xlim if which == "x" else ax.set_ylim)(low, high)
    axis.set_major_formatter(tick_formatter(unit))
    return scale


def scale_note(scale: str) -> str:
    return " (log scale)" if scale == "log" else ""


def plain_number(value: float, significant: int = SIGNIFICANT) -> str:
    """`value` rounded to `significant` digits, written out without exponent or prefix: 0.03, 1.5, 250,000."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
