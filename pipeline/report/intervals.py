"""95% intervals for every accuracy mnd shows: Wilson for one accuracy on n samples (pipeline/evaluate.wilson_interval),
as the one text format every report, table and terminal line uses ("86.0% [80.5, 90.1]"), and Newcombe's hybrid
score interval for a difference of two (the figures' int8 - float).

The difference interval is Newcombe's (1998) method 10 for independent proportions: the per-sample agreement of
int8 and float is not recorded, so the paired method cannot be used; on the same samples (positively correlated)
the independent interval is the wider, conservative one."""
import math

from mnd.pipeline.evaluate import wilson_interval

DIFFERENCE_METHOD = "Newcombe's hybrid score interval (independent samples; conservative for the same samples)"


def correct_count(accuracy: float | None, n: int | None) -> int | None:
    """The number of correct samples behind `accuracy` on `n`, or None where n is unknown or they disagree (an
    accuracy derived from a drop rounded to 1e-6, as a sweep's float accuracy may be, still agrees)."""
    if accuracy is None or not n or not math.isfinite(accuracy) or not 0 <= accuracy <= 1:
        return None
    correct = round(accuracy * n)
    return correct if abs(accuracy * n - correct) < 0.01 + 2e-6 * n else None


def accuracy_bounds(accuracy: float | None, n: int | None) -> tuple | None:
    """(low, high), the Wilson 95% interval, or None where n is unknown."""
    correct = correct_count(accuracy, n)
    return None if correct is None else tuple(wilson_interval(correct, n))


def difference_interval(a: float, n_a: int, b: float, n_b: int) -> tuple | None:
    """(low, high) of a - b, Newcombe's hybrid score 95% interval, or None where either n is unknown."""
    first, second = accuracy_bounds(a, n_a), accuracy_bounds(b, n_b)
    if first is None or second is None:
        return None
    difference = a - b
    low = difference - math.hypot(a - first[0], second[1] - b)
    high = difference + math.hypot(first[1] - a, b - second[0])
    return max(-1.0, low), min(1.0, high)


def decimals(n: int) -> int:
    """Enough decimals of a percentage that one sample more or less shows: 1 up to 1,000 samples, 2 up to 10,000..."""
    return max(1, math.ceil(math.log10(n)) - 2)


def accuracy_interval(accuracy: float | None, n: int | None) -> str:
    """`accuracy` on `n` samples with its Wilson 95% interval in percent, "97.2% (n unknown)" where n is not known,
    "—" where nothing was measured (no accuracy, or none of 0 samples)."""
    if accuracy is None or n == 0:
        return "—"
    bounds = accuracy_bounds(accuracy, n)
    if bounds is None:
        return f"{100 * accuracy:.1f}% (n unknown)"
    places = decimals(n)
    return f"{100 * accuracy:.{places}f}% [{100 * bounds[0]:.{places}f}, {100 * bounds[1]:.{places}f}]"
