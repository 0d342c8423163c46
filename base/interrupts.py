"""Ctrl-C, SIGTERM and SIGHUP: one handler that records the signal and stops the run at a safe point.

Outside `deferred()` the handler raises KeyboardInterrupt at once, so blocking waits end and `finally` blocks clean
up; code that may swallow that exception (TensorFlow's callbacks and input pipeline) still stops at the next
`raise_if_requested()`. Inside `deferred()` (a training step, a checkpoint being written) only the flag is set; a
second signal there stops at once.
"""
import contextlib
import signal

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_state = {"signal": None, "deferred": 0}


def install() -> None:
    for signum in HANDLED:
        signal.signal(signum, _on_signal)


def received() -> int | None:
    """The first signal received, or None."""
    return _state["signal"]


def exit_code(default: int = signal.SIGINT) -> int:
    """The shell's convention: 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""
    return 128 + int(received() or default)


def raise_if_requested() -> None:
    if _state["signal"] is not None:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1


def _on_signal(signum, _frame) -> None:
    first = _state["signal"] is None
    if first:
        _state["signal"] = signum
    if not _state["deferred"] or not first:
        raise KeyboardInterrupt
