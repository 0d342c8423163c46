"""Several boards at once (`--ssh` given more than once): one export's work items (a runtime on an artifact at one
thread count, or mnd-c) are spread over the boards, one item per board at a time, a thread per board in this
process with its own SSH connection. A board that drops out (its connection fails: refused, ssh exit 255, a
command past its limit) is reported and the item it was running goes back to the others; when every board is gone
the measurement fails with one line."""
import json
import logging
import threading
from dataclasses import dataclass, field, replace

from mnd.targets.base import TargetUnavailable
from mnd.targets.engine_remote import ENGINE
from mnd.targets.transport.base import TransportError

log = logging.getLogger("mnd")


class WorkQueue:
    """The items not yet measured. `take` waits while the queue is empty but items are running elsewhere (one may
    come back from a board that drops out); None when everything is done or the run is stopped."""

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
class BoardShare:
    """What one board did: its facts (None when it never got that far), rows measured, why it dropped out."""
    ssh: str
    facts: dict | None = None
    rows: list = field(default_factory=list)
    dropped: str | None = None

    def record(self) -> dict:
        return {"ssh": self.ssh, "rows": list(self.rows), "dropped": self.dropped, "facts": self.facts}


def measure_on_boards(target, job, settings) -> tuple:
    """(manifest.target.board, {row id: (item, outputs)}) of `job` measured on every --ssh board; each item's
    dict names the board that measured it."""
    shares = [BoardShare(ssh) for ssh in settings.board.ssh_boards]
    items = [("runner", item) for item in job.runner_items] + ([(ENGINE, None)] if job.engine_item else [])
    queue, results, failures = WorkQueue(items), {}, []
    log.info("%s: %d work items over %d boards (%s)", target.name, len(items), len(shares),
             ", ".join(share.ssh for share in shares))
    threads = [threading.Thread(target=_serve, args=(target, job, settings, share, queue, results, failures),
                                name=f"board {share.ssh}", daemon=True) for share in shares]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:  # Ctrl-C: no new items; the running ones end and clean up their boards (a second stops)
        queue.stop()
        log.warning("%s: stopping: waiting for the items running on the boards (again to leave them)", target.name)
        for thread in threads:
            thread.join()
        raise
    if failures:
        raise failures[0]
    left = queue.left()
    if left:
        gone = "; ".join(f"{share.ssh}: {share.dropped}" for share in shares if share.dropped)
        raise TargetUnavailable(f"{target.name}: every board dropped out with {len(left)} work item(s) left "
                                f"({gone}); check them with 'mnd targets --ssh HOST' and run again")
    measured = next(share.facts for share in shares if share.facts is not None)
    return dict(measured, boards=[share.record() for share in shares]), results


def _serve(target, job, settings, share: BoardShare, queue: WorkQueue, results: dict, failures: list):
    """One board's thread: set the board up, then measure items from the queue until it is empty."""
    from mnd.targets.linux_arm64.facts import board_record
    from mnd.targets.linux_arm64.remote_python import ready_python

    item = None
    try:
        transport = target.connect(replace(settings.board, ssh=share.ssh, ssh_boards=()))
        with transport.workdir() as workdir, job.staged() as local:
            transport.push([target.runner], workdir)
            before = target._facts(transport, workdir)
            python = probe = None
            if job.runner_items:
                python, probe = ready_python(transport, workdir, target.name, settings.board.remote_python,
                                             settings.board.setup)
            transport.push(sorted(local.iterdir()), workdir)
            share.facts = board_record(before, before, probe)
            while (item := queue.take()) is not None:
                for row_id, (outcome, outputs) in _measure_item(target, transport, workdir, python, job, item,
                                                                 local).items():
                    results[row_id] = (dict(outcome, board=share.ssh), outputs)
                    share.rows.append(row_id)
                queue.finished()
                item = None
            share.facts = board_record(before, target._facts(transport, workdir), probe)
    except TransportError as error:
        share.dropped = str(error)
        if item is not None:
            queue.give_back(item)
        log.warning("warning: %s: board %s dropped out: %s%s", target.name, share.ssh, share.dropped,
                    "; its work item moves to another board" if item is not None else "")
    except BaseException as error:  # not the board's connection: the measurement itself failed, as on one board
        failures.append(error)
        queue.stop()


def _measure_item(target, transport, workdir: str, python, job, item: tuple, local) -> dict:
    kind, runner_item = item
    if kind == ENGINE:
        return {ENGINE: target._run_engine(transport, workdir, job, local)}
    single = replace(job, runner_items=[runner_item], engine_item=None)
    (local / "job.json").write_text(json.dumps(single.job_document(), indent=1))
    transport.push([local / "job.json"], workdir)
    return target._run_runner(transport, workdir, python, single, local)
