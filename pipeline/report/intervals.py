"""95% intervals for the accuracies the figures and sweep tables show: Wilson for one accuracy on n samples
(pipeline/evaluate.wilson_interval), Newcombe's hybrid score interval for a difference of two.

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


def accuracy_interval(accuracy: float | None, n: int | None) -> tuple | None:
    """(low, high), the Wilson 95% interval, or None where n is unknown."""
    correct = correct_count(accuracy, n)
    return None if correct is None else tuple(wilson_interval(correct, n))


def difference_interval(a: float, n_a: int, b: float, n_b: int) -> tuple | None:
    """(low, high) of a - b, Newcombe's hybrid score 95% interval, or None where either n is unknown."""
    first, second = accuracy_interval(a, n_a), accuracy_interval(b, n_b)
    if first is None or second is None:
        return None
    difference = a - b
    low = difference - math.hypot(a - first[0], second[1] - b)
    high = difference + math.hypot(first[1] - a, b - second[0])
    return max(-1.0, low), min(1.0, high)


def accuracy_text(accuracy: float | None, n: int | None) -> str:
    """"97.2% [95.0, 98.5]" (the Wilson 95% interval in points), "97.2% (n unknown)", or "—"."""
    if accuracy is None:
        return "—"
    interval = accuracy_interval(accuracy, n)
    if interval is None:
        return f"{100 * accuracy:.1f}% (n unknown)"
    return f"{100 * accuracy:.1f}% [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]"
