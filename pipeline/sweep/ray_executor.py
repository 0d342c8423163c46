"""`mnd sweep --executor ray`: each variant one Ray task (ray.remote), collected with ray.wait as each finishes.

Without --address a local Ray instance is started for the run (--jobs CPUs) and shut down after it; with
--address (auto, HOST:PORT or ray://HOST:PORT) the tasks go to that cluster, whose every node needs mnd installed
and the sweep folder at the same path (docs/SWEEPS_RAY.md). At most as many tasks are in flight as the cluster
has CPUs (Ray's "limit pending tasks" pattern), so that "running" in the sweep's bar means running."""
import importlib.util
import logging
import signal
import warnings

from mnd.base import interrupts
from mnd.base.errors import UsageError
from mnd.pipeline.sweep.ray_address import no_cluster

log = logging.getLogger("mnd")
INSTALL = "pip install 'mobilenet-deploy[ray]'"
OBJECT_STORE_BYTES = 80 << 20  # rows are small: the smallest store Ray accepts (75 MiB) and a margin
STOP_SECONDS = 60


def check_ray_installed() -> None:
    """Ray importable, else one line naming the extra to install."""
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UsageError(f"--executor ray needs Ray, which is not installed: {INSTALL} (or --executor local)")


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None, jobs: int | None):
        self.address, self.jobs = address, jobs
        self.started_here = False
        self.details = {}

    def describe(self) -> dict:
        return {"name": self.name, **self.details}

    def __enter__(self):
        import ray

        handlers = {signum: signal.getsignal(signum) for signum in interrupts.HANDLED}
        try:
            if self.address is None:
                context = ray.init(num_cpus=self.jobs, include_dashboard=False,
                                   object_store_memory=OBJECT_STORE_BYTES, configure_logging=False)
                self.started_here = True
            else:
                with warnings.catch_warnings():  # Ray Client's own time-out warning: the one line below says it
                    warnings.filterwarnings("ignore", message="Ray Client connection timed out")
                    context = ray.init(address=self.address, configure_logging=False)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # Ray's own errors for an unreachable or refused cluster differ by version
            reason = " ".join(str(error).split())[:300] or type(error).__name__
            if self.address:
                raise UsageError(no_cluster(self.address, reason)) from None
            raise UsageError(f"cannot start a local Ray instance: {reason}; see docs/SWEEPS_RAY.md, or use "
                             "--executor local") from None
        finally:  # ray.init replaces SIGTERM's handler with sys.exit: mnd's own stops the sweep and cancels the tasks
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        address = getattr(context, "address_info", {}).get("address") or ray.get_runtime_context().gcs_address
        self.details = {"ray_version": ray.__version__, "address": address,
                        "cluster": "local, started for this sweep" if self.started_here else self.address}
        log.info("ray %s: %s (%s)", ray.__version__, address, self.details["cluster"])
        return self

    def __exit__(self, *exc) -> None:
        import ray

        ray.shutdown()  # disconnects from a cluster, stops the local instance started here

    def rows(self, tasks: list, running=lambda count: None):
        import ray

        from mnd.pipeline.sweep.variant_task import run_variant_in_ray_task

        if not tasks:
            return

        remote = ray.remote(num_cpus=1, max_retries=0)(run_variant_in_ray_task)
        limit = max(1, self.jobs or int(ray.cluster_resources().get("CPU", 1)))
        waiting, in_flight = list(tasks), {}
        stopped = True
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < limit:
                    task = waiting.pop(0)
                    in_flight[remote.remote(task)] = task
                running(len(in_flight))
                done, _ = ray.wait(list(in_flight), num_returns=1)
                task = in_flight.pop(done[0])
                yield task, _task_row(ray, task, done[0])
            stopped = False
        finally:
            if stopped:
                _cancel(ray, list(in_flight))


def _task_row(ray, task, ref) -> dict:
    """The task's row; a task Ray lost (its worker or node died) fails its variant with Ray's error line."""
    from mnd.pipeline.sweep.rows import failed_row

    try:
        return ray.get(ref)
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError,
            ray.exceptions.TaskUnschedulableError) as error:
        return failed_row(task.variant, error)
    except ray.exceptions.RayTaskError as error:
        raise error.as_instanceof_cause() from None  # what stops a sweep in a task (a refused write) stops it here


def _cancel(ray, refs: list) -> None:
    """KeyboardInterrupt in each running task (its export cleans up as on Ctrl-C), then a short wait for them."""
    for ref in refs:
        ray.cancel(ref)
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=STOP_SECONDS)
