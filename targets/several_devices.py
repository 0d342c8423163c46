"""Several boards or phones at once (`--ssh` or `--serial` given more than once): one export's work items are
spread over the devices, one item per device at a time, a thread per device in this process with its own
connection. A device that drops out (its connection fails: TransportError) is reported and the item it was
running goes back to the others; when every device is gone the measurement fails with one line."""
import logging
import threading
from dataclasses import dataclass, field

from mnd.base.errors import TargetUnavailable
from mnd.targets.transport.base import TransportError

log = logging.getLogger("mnd")


class WorkQueue:
    """The items not yet measured. `take` waits while the queue is empty but items are running elsewhere (one may
    come back from a device that drops out); None when everything is done or the run is stopped."""

    def __init__(self, items: list):
        self._pending, self._running, self._stopped = list(items), 0, False
        self._changed = threading.Condition()

    def take(self):
        with self._changed:
            while not self._pending and self._running and not self._stopped:
                self._changed.wait()
            if self._stopped or not self._pending:
                return None
            self._running += 1
            return self._pending.pop(0)

    def finished(self):
        with self._changed:
            self._running -= 1
            self._changed.notify_all()

    def give_back(self, item):
        with self._changed:
            self._pending.insert(0, item)
            self._running -= 1
            self._changed.notify_all()

    def stop(self):
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def left(self) -> list:
        with self._changed:
            return list(self._pending)


@dataclass
class DeviceShare:
    """What one device did: its facts (None when it never got that far), rows measured, why it dropped out.
    `key` names the device in the record: "ssh" for a board, "serial" for a phone."""
    name: str
    key: str = "ssh"
    facts: dict | None = None
    rows: list = field(default_factory=list)
    dropped: str | None = None

    def record(self) -> dict:
        return {self.key: self.name, "rows": list(self.rows), "dropped": self.dropped, "facts": self.facts}


@dataclass(frozen=True)
class Fleet:
    """How to talk about the devices in messages: `target` (its name), `noun` ("board", "phone") and `check`
    (the command that checks one)."""
    target: str
    noun: str
    check: str


def spread_work(fleet: Fleet, shares: list, items: list, session) -> dict:
    """{row id: what the device's measure returned} for every item, measured over `shares`. `session(share)` is a
    context manager that sets the device up (recording share.facts) and yields `measure(item) -> {row id: value}`;
    a TransportError inside it drops the device out."""
    queue, results, failures = WorkQueue(items), {}, []
    log.info("%s: %d work items over %d %ss (%s)", fleet.target, len(items), len(shares), fleet.noun,
             ", ".join(share.name for share in shares))
    threads = [threading.Thread(target=_serve, args=(fleet, session, share, queue, results, failures),
                                name=f"{fleet.noun} {share.name}", daemon=True) for share in shares]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:  # Ctrl-C: no new items; the running ones end and clean up their devices (a second stops)
        queue.stop()
        log.warning("%s: stopping: waiting for the items running on the %ss (again to leave them)", fleet.target,
                    fleet.noun)
        for thread in threads:
            thread.join()
        raise
    if failures:
        raise failures[0]
    left = queue.left()
    if left:
        gone = "; ".join(f"{share.name}: {share.dropped}" for share in shares if share.dropped)
        raise TargetUnavailable(f"{fleet.target}: every {fleet.noun} dropped out with {len(left)} work item(s) left "
                                f"({gone}); check them with '{fleet.check}' and run again")
    return results


def _serve(fleet: Fleet, session, share: DeviceShare, queue: WorkQueue, results: dict, failures: list):
    """One device's thread: set it up, then measure items from the queue until it is empty."""
    item = None
    try:
        with session(share) as measure:
            while (item := queue.take()) is not None:
                for row_id, value in measure(item).items():
                    results[row_id] = value
                    share.rows.append(row_id)
                queue.finished()
                item = None
    except TransportError as error:
        share.dropped = str(error)
        if item is not None:
            queue.give_back(item)
        log.warning("warning: %s: %s %s dropped out: %s%s", fleet.target, fleet.noun, share.name, share.dropped,
                    f"; its work item moves to another {fleet.noun}" if item is not None else "")
    except BaseException as error:  # not the device's connection: the measurement itself failed, as on one device
        failures.append(error)
        queue.stop()
