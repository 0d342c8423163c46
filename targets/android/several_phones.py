"""Several phones at once (`--serial` given more than once): targets/several_devices.py spreads one export's work
items (mnd-c over the evaluation inputs, and each benchmark_model run) over the phones, each through adb."""
from contextlib import contextmanager

from mnd.base.errors import TargetUnavailable
from mnd.targets.engine_remote import ENGINE
from mnd.targets.several_devices import DeviceShare, Fleet, spread_work
from mnd.targets.transport.base import TransportError


def measure_on_phones(target, engine, inputs, run_dir, manifest, settings) -> tuple:
    """(manifest.target.board, (outputs, latencies, serial) of mnd-c, [(BenchmarkRun, parsed, serial)]) measured on
    every --serial phone; the board record lists each phone's share."""
    shares = [DeviceShare(serial, "serial") for serial in settings.board.serials]
    runs = target.benchmark_runs(manifest, settings)
    fleet = Fleet(target.name, "phone", "adb devices")
    results = spread_work(fleet, shares, [ENGINE, *runs],
                          lambda share: _phone_session(target, share, engine, inputs, run_dir, manifest, settings,
                                                       bool(runs)))
    phone = next(share.facts for share in shares if share.facts is not None)
    benchmarks = [results[_row_id(run)] for run in runs if _row_id(run) in results]
    return dict(phone, boards=[share.record() for share in shares]), results[ENGINE], benchmarks


@contextmanager
def _phone_session(target, share: DeviceShare, engine, inputs, run_dir, manifest, settings, benchmarking: bool):
    """Reaches the phone, records its facts, pushes benchmark_model's files, and yields its measure(item)."""
    from mnd.targets.transport.adb import AdbTransport

    transport = AdbTransport(share.name)
    try:
        share.facts = target.phone_facts(transport)
    except TargetUnavailable as error:  # not an arm64 phone: this one drops out, the others go on
        raise TransportError(str(error).removeprefix("android: ")) from None
    with transport.workdir() as workdir:
        if benchmarking:
            target.push_benchmark_files(transport, workdir, run_dir, manifest, settings)

        def measure(item) -> dict:
            if item == ENGINE:
                outputs, latencies = target._run_engine(transport, workdir, engine, inputs,
                                                        manifest.model["classes"], settings)
                return {ENGINE: (outputs, latencies, share.name)}
            parsed = target.run_benchmark(transport, workdir, item, settings)
            return {} if parsed is None else {_row_id(item): (item, parsed, share.name)}

        yield measure


def _row_id(run) -> str:
    return f"{run.runtime}-{run.kind}-t{run.threads}"
