"""Progress on stderr: per-epoch bars and per-phase timers (tqdm) on a terminal, log lines otherwise.

With --json no bar is drawn (the CLI calls `disable_bars`), so stderr holds log lines only.
"""
import contextlib
import logging
import sys
import threading

from tqdm import tqdm

log = logging.getLogger("mnd")
_bars = {"enabled": True}


def disable_bars() -> None:
    _bars["enabled"] = False


def bars_enabled() -> bool:
    return _bars["enabled"] and sys.stderr.isatty()


@contextlib.contextmanager
def phase(description: str):
    """One step that may take a while (a conversion, a runtime's measurement, an emulator run): on a terminal a
    bar whose elapsed time ticks until the step ends; elsewhere the description as a log line."""
    if not bars_enabled():
        log.info("%s", description)
        yield
        return
    bar = tqdm(total=1, desc=f"mnd: {description}", file=sys.stderr, leave=True, dynamic_ncols=True,
               bar_format="{desc} [{elapsed}]")
    done = threading.Event()
    ticker = threading.Thread(target=_tick, args=(bar, done), daemon=True)
    ticker.start()
    try:
        yield
        bar.update(1)
    finally:
        done.set()
        ticker.join()
        bar.close()


def _tick(bar, done: threading.Event) -> None:
    while not done.wait(0.5):
        bar.refresh()


class EpochBar:
    def __init__(self, epoch: int, epochs: int, steps: int):
        self.epoch, self.epochs = epoch, epochs
        self.bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=True,
                        file=sys.stderr, disable=not bars_enabled(), dynamic_ncols=True)
        self.last_loss = float("nan")

    def update(self, steps: int, loss: float) -> None:
        self.last_loss = loss
        self.bar.update(steps)
        self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def close(self, val_accuracy: float) -> None:
        self.bar.set_postfix(loss=f"{self.last_loss:.3f}", val_acc=f"{val_accuracy:.2%}")
        self.bar.close()
        if self.bar.disable:
            log.info("epoch %d/%d: loss %.3f, validation accuracy %.2f%%", self.epoch, self.epochs,
                     self.last_loss, 100 * val_accuracy)


class SweepBar:
    """`mnd sweep`'s one bar: variants done of the grid, with how many are running and how many failed; elsewhere a
    log line per finished variant."""

    def __init__(self, total: int, done: int):
        self.total, self.done, self.failed, self.in_flight = total, done, 0, 0
        self.bar = tqdm(total=total, initial=done, desc="mnd: sweep", unit="variant", file=sys.stderr,
                        disable=not bars_enabled(), dynamic_ncols=True, leave=True)

    def running(self, count: int) -> None:
        self.in_flight = count
        self.bar.set_postfix_str(f"running {count}, failed {self.failed}")

    def finished(self, name: str, status: str) -> None:
        self.done += 1
        self.failed += status == "failed"
        self.in_flight = max(0, self.in_flight - 1)
        self.bar.update(1)
        self.running(self.in_flight)
        if self.bar.disable:
            log.info("variant %d of %d: %s, %s", self.done, self.total, name, status)

    def close(self) -> None:
        self.bar.close()
