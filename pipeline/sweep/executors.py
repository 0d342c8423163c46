"""What runs a sweep's variants: `local` (this process with --jobs 1, else a process pool of --jobs workers) or
`ray` (sweep.ray_executor). Each executor's `rows(tasks)` yields (task, row) as each variant finishes, in any
order, calls `running(count)` whenever the number of variants in flight changes, and stops every variant still
running when the caller stops iterating (an interrupt, an error)."""
import concurrent.futures
import multiprocessing
import os
import time

from mnd.pipeline.sweep.variant_task import run_variant, run_variant_in_worker

EXECUTORS = ("local", "ray")
RESIGNAL_SECONDS, STOP_SECONDS = 5, 30  # for stopped workers to remove their staging folders and child processes


def available_cpus() -> int:
    return len(os.sched_getaffinity(0))


def default_jobs(target, measure) -> int:
    """--jobs when not given: every CPU this process may use when the target counts instructions under emulation
    here (Cortex-M without --probe: the counts are the same under any load); 1 otherwise, since variants timed
    side by side would slow each other's latencies, and one board measures one variant at a time."""
    from mnd.targets.cortex_m.target import CortexMTarget

    counted = isinstance(target, CortexMTarget) and measure.board.probe is None
    return available_cpus() if counted else 1


def make_executor(name: str, jobs: int | None, address: str | None, target, measure):
    if name == "ray":
        from mnd.pipeline.sweep.ray_executor import RayExecutor

        return RayExecutor(address, jobs if jobs or address else default_jobs(target, measure))
    return LocalExecutor(jobs or default_jobs(target, measure))


class LocalExecutor:
    name = "local"

    def __init__(self, jobs: int):
        self.jobs = jobs

    def describe(self) -> dict:
        return {"name": self.name, "jobs": self.jobs}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def rows(self, tasks: list, running=lambda count: None):
        if self.jobs == 1 or len(tasks) == 1:
            yield from self._in_process(tasks, running)
        else:
            yield from self._pool(tasks, running)

    @staticmethod
    def _in_process(tasks: list, running):
        for task in tasks:
            running(1)
            yield task, run_variant(task)
        running(0)

    def _pool(self, tasks: list, running):
        # spawn: TensorFlow is loaded here already, and a forked copy of its threads can deadlock
        context = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(min(self.jobs, len(tasks)), mp_context=context)
        futures = {pool.submit(run_variant_in_worker, task): task for task in tasks}
        pending = set(futures)
        stopped = True
        try:
            while pending:
                running(min(self.jobs, len(pending)))
                finished, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    yield futures[future], _pool_row(futures[future], future)
            stopped = False
        finally:
            if stopped:
                _stop_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)


def _pool_row(task, future) -> dict:
    """The variant's row; a worker that died (killed, out of memory) fails its variant, whose error says so."""
    from mnd.pipeline.sweep.rows import failed_row

    try:
        return future.result()
    except concurrent.futures.process.BrokenProcessPool as error:
        return {**failed_row(task.variant, error), "error": f"BrokenProcessPool: {error}"[:2000]}


def _stop_workers(pool) -> None:
    """Cancels the variants not started and sends SIGTERM to the workers (each stops as `mnd` does on SIGTERM, its
    staging folder removed); one still running after RESIGNAL_SECONDS (the interrupt fell where Python drops it) is
    signalled again, and killed after STOP_SECONDS."""
    pool.shutdown(wait=False, cancel_futures=True)
    workers = multiprocessing.active_children()
    start = time.monotonic()
    for deadline, stop in ((RESIGNAL_SECONDS, "terminate"), (STOP_SECONDS, "terminate"), (None, "kill")):
        for worker in workers:
            if worker.is_alive():
                getattr(worker, stop)()
        for worker in workers if deadline else ():
            worker.join(max(0.0, start + deadline - time.monotonic()))
