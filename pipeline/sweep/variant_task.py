"""One sweep variant, built (or trained), exported into out/SWEEP/variants/<name> and measured: the unit of work
every executor runs, in this process (`--jobs 1`), a process pool's worker or a Ray task. It returns the variant's
row; a failure of the variant itself becomes a failed row, an interrupt or a refused write stops the sweep."""
import functools
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mnd.base import interrupts
from mnd.base.errors import Interrupted
from mnd.base.refused_writes import refused_write
from mnd.pipeline.sweep.fits import cannot_fit
from mnd.pipeline.sweep.rows import failed_row, measured_row, not_run_row

log = logging.getLogger("mnd")
_worker = {"prepared": False, "busy": False}


@dataclass(frozen=True)
class VariantTask:
    """Everything a worker needs for one variant (pickled to pool workers and Ray tasks): `out` is absolute."""
    variant: object
    config: object  # sweep.run.SweepConfig
    out: Path
    limits: list


def run_variant(task: VariantTask) -> dict:
    variant = task.variant
    reason = cannot_fit(variant, task.limits)
    if reason:
        log.info("%s does not fit, not run: %s", variant.name, reason)
        return not_run_row(variant, reason)
    start = time.monotonic()
    try:
        row = _export_variant(variant, task.config, task.out, task.limits)
    except Interrupted:
        raise
    except Exception as error:  # one variant's failure is recorded and the sweep goes on
        if interrupts.received() or refused_write(error) is not None:  # a full disk stops every variant alike
            raise
        log.warning("warning: %s failed: %s", variant.name, " ".join(str(error).split())[:300])
        row = failed_row(variant, error)
    finally:
        _free_keras_models()
    return {**row, "seconds": round(time.monotonic() - start, 1)}


def run_variant_in_worker(task: VariantTask) -> dict:
    """`run_variant` in a process pool's worker, prepared once per process."""
    prepare_worker(signals=True)
    name_log_lines(task.variant.name)
    _worker["busy"] = True
    try:
        return run_variant(task)
    finally:
        _worker["busy"] = False


def run_variant_in_ray_task(task: VariantTask) -> dict:
    """`run_variant` in a Ray worker: Ray owns its signals (ray.cancel raises KeyboardInterrupt in the task)."""
    prepare_worker(signals=False)
    name_log_lines(task.variant.name)
    return run_variant(task)


def prepare_worker(signals: bool) -> None:
    """A worker process logs as `mnd` does, draws no bars (the sweep's one bar is the driver's) and has TensorFlow
    loaded; `signals`: it stops on SIGINT/SIGTERM as `mnd` does (its export removes its staging folder and its
    child processes)."""
    if _worker["prepared"]:
        return
    from mnd.base.progress import disable_bars
    from mnd.base.quiet import import_tensorflow_quietly
    from mnd.pipeline.log_setup import configure_logging

    configure_logging(verbose=False)
    disable_bars()
    if signals:
        interrupts.install()
        for signum in interrupts.HANDLED:
            signal.signal(signum, functools.partial(_stop_or_exit, signal.getsignal(signum)))
        sys.unraisablehook = _quiet_interrupt
    import_tensorflow_quietly()
    _worker["prepared"] = True


def name_log_lines(variant_name: str) -> None:
    """Variants run side by side in workers: each of their log lines names its variant."""
    from mnd.pipeline.log_setup import configure_logging

    configure_logging(verbose=False, info_prefix=f"{variant_name}: ")


def _stop_or_exit(handler, signum, frame) -> None:
    """A stop signal: a worker running a variant stops it as `mnd` does (`handler`), an idle one just exits."""
    if not _worker["busy"]:
        os._exit(128 + signum)
    handler(signum, frame)


def _quiet_interrupt(unraisable) -> None:
    """The stop signal's KeyboardInterrupt raised where Python cannot pass it on (a weakref callback, a __del__) is
    dropped without a traceback: the pool signals a worker still running again (executors._stop_workers)."""
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def _export_variant(variant, config, out: Path, limits: list) -> dict:
    from mnd.base.progress import EpochBar
    from mnd.pipeline import rundir
    from mnd.pipeline.export.run import ExportConfig, export
    from mnd.pipeline.sweep.models import random_source, trained_source

    if config.cost_only:
        source = random_source(variant.spec, config.seed)
    else:
        source = trained_source(variant.spec, config.dataset, config.epochs, config.seed,
                                out / "training" / variant.name, config.cache, progress=EpochBar)
    run = out / "variants" / variant.name
    # allow_drift: a variant whose int8 model loses accuracy is a result of the sweep, recorded in its row; calib:
    # the --dataset given here (the training run's own split of it, as by default), not the run manifest's word
    export_config = ExportConfig(target=config.target, measure=config.measure, cost_only=config.cost_only,
                                 allow_drift=True, calib=config.dataset)
    manifest = export(source, rundir.claim(run, force=True), export_config)
    return measured_row(variant, f"variants/{variant.name}", manifest, limits, with_accuracy=not config.cost_only)


def _free_keras_models() -> None:
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
