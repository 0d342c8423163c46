"""Per-epoch progress on stderr: a tqdm bar on a terminal, one log line per epoch otherwise."""
import logging
import sys

from tqdm import tqdm

log = logging.getLogger("mnd")


class EpochBar:
    def __init__(self, epoch: int, epochs: int, steps: int):
        self.epoch, self.epochs = epoch, epochs
        self.bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=True,
                        file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True)
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
