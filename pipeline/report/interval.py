"""An accuracy measured on n samples, shown with its Wilson 95% interval: the one format every report, table and
terminal line uses for an accuracy ("86.0% [80.5, 90.1]")."""
import math

from mnd.pipeline.evaluate import wilson_interval


def decimals(n: int) -> int:
    """Enough decimals of a percentage that one sample more or less shows: 1 up to 1,000 samples, 2 up to 10,000..."""
    return max(1, math.ceil(math.log10(n)) - 2)


def accuracy_interval(accuracy: float | None, n: int | None) -> str:
    """`accuracy` of `n` samples (round(accuracy * n) correct) and its Wilson 95% interval, in percent; "—" when
    nothing was measured."""
    if accuracy is None or not n:
        return "—"
    low, high = wilson_interval(round(accuracy * n), n)
    places = decimals(n)
    return f"{100 * accuracy:.{places}f}% [{100 * low:.{places}f}, {100 * high:.{places}f}]"
