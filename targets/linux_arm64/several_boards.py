"""Several boards at once (`--ssh` given more than once): targets/several_devices.py spreads one export's work
items (a runtime on an artifact at one thread count, or mnd-c) over the boards, each with its own SSH connection."""
import json
from contextlib import contextmanager
from dataclasses import replace

from mnd.targets.engine_remote import ENGINE
from mnd.targets.several_devices import DeviceShare, Fleet, spread_work


def measure_on_boards(target, job, settings) -> tuple:
    """(manifest.target.board, {row id: (item, outputs)}) of `job` measured on every --ssh board; each item's
    dict names the board that measured it."""
    shares = [DeviceShare(ssh, "ssh") for ssh in settings.board.ssh_boards]
    items = [("runner", item) for item in job.runner_items] + ([(ENGINE, None)] if job.engine_item else [])
    fleet = Fleet(target.name, "board", "mnd targets --ssh HOST")
    results = spread_work(fleet, shares, items, lambda share: _board_session(target, job, settings, share))
    measured = next(share.facts for share in shares if share.facts is not None)
    return dict(measured, boards=[share.record() for share in shares]), results


@contextmanager
def _board_session(target, job, settings, share: DeviceShare):
    """Sets the board up (runner, facts, Python, the job's files) and yields its measure(item)."""
    from mnd.targets.linux_arm64.facts import board_record
    from mnd.targets.linux_arm64.remote_python import ready_python

    transport = target.connect(replace(settings.board, ssh=share.name, ssh_boards=()))
    with transport.workdir() as workdir, job.staged() as local:
        transport.push([target.runner], workdir)
        before = target._facts(transport, workdir)
        python = probe = None
        if job.runner_items:
            python, probe = ready_python(transport, workdir, target.name, settings.board.remote_python,
                                         settings.board.setup)
        transport.push(sorted(local.iterdir()), workdir)
        share.facts = board_record(before, before, probe)

        def measure(item) -> dict:
            return {row_id: (dict(outcome, board=share.name), outputs) for row_id, (outcome, outputs)
                    in _measure_item(target, transport, workdir, python, job, item, local).items()}

        yield measure
        share.facts = board_record(before, target._facts(transport, workdir), probe)


def _measure_item(target, transport, workdir: str, python, job, item: tuple, local) -> dict:
    kind, runner_item = item
    if kind == ENGINE:
        return {ENGINE: target._run_engine(transport, workdir, job, local)}
    single = replace(job, runner_items=[runner_item], engine_item=None)
    (local / "job.json").write_text(json.dumps(single.job_document(), indent=1))
    transport.push([local / "job.json"], workdir)
    return target._run_runner(transport, workdir, python, single, local)
