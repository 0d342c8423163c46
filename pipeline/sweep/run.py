"""`mnd sweep`: every alpha x resolution variant built (or trained), exported and measured on one target, one row
each appended to out/SWEEP/rows.jsonl as it finishes, then sweep.json, report.md and report.html over the whole
grid."""
import contextlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from mnd.base.errors import MndError
from mnd.base.progress import SweepBar
from mnd.pipeline.sweep.executors import make_executor
from mnd.pipeline.sweep.finished import is_finished, rows_from_manifests, run_directory_missing
from mnd.pipeline.sweep.fits import target_limits
from mnd.pipeline.sweep.folder import SWEEP_FILE, open_folder, write_sweep
from mnd.pipeline.sweep.grid import variants
from mnd.pipeline.sweep.record import ROWS_FILE, append_row
from mnd.pipeline.sweep.variant_task import VariantTask
from mnd.targets.base import MeasureSettings

log = logging.getLogger("mnd")


class VariantsFailed(MndError):
    """The sweep finished, but some variants failed; their errors are in sweep.json and the report."""

    exit_code = 1


@dataclass(frozen=True)
class SweepConfig:
    target: str
    alphas: tuple
    sides: tuple
    dataset: str | None = None  # None: cost-only (random weights, no accuracy)
    epochs: int = 10
    classes: int = 1000         # cost-only; with a dataset, its own
    channels: int = 3
    seed: int = 0
    flash_kb: float | None = None
    ram_kb: float | None = None
    measure: MeasureSettings = MeasureSettings()
    family: str = "v1"          # v1, v2, v3_small or v3_large (sweep.grid.FAMILIES)
    part: str | None = None     # --board: the preset whose flash and RAM are flash_kb and ram_kb
    cache: Path | None = None   # MND_CACHE: training caches the dataset's decoded images there

    @property
    def cost_only(self) -> bool:
        return self.dataset is None

    def settings(self, classes: int, channels: int) -> dict:
        """Everything that decides a row besides its alpha and resolution: one sweep folder holds one of these."""
        board = self.measure.board
        family = {} if self.family == "v1" else {"family": self.family}  # v1 folders from before keep matching
        family.update({"part": self.part} if self.part else {})  # likewise folders without --board
        return {**family, "target": self.target, "mode": "cost-only" if self.cost_only else "trained",
                "dataset": self.dataset, "epochs": None if self.cost_only else self.epochs, "seed": self.seed,
                "classes": classes, "channels": channels, "flash_kb": self.flash_kb, "ram_kb": self.ram_kb,
                "runs": self.measure.runs, "warmup": self.measure.warmup,
                "threads": list(self.measure.threads) if self.measure.threads else None,
                "clock_mhz": self.measure.clock_mhz, "board": board.ssh or board.serial,
                **({"boards": list(board.ssh_boards or board.serials)} if board.ssh_boards or board.serials else {})}


@dataclass(frozen=True)
class ExecutorChoice:
    name: str = "local"         # sweep.executors.EXECUTORS
    jobs: int | None = None     # None: sweep.executors.default_jobs
    address: str | None = None  # ray: a cluster's address; None: a local Ray started for the run


def run_sweep(config: SweepConfig, out: Path, force: bool = False, inputs=(),
              choice: ExecutorChoice = ExecutorChoice()) -> dict:
    """Runs every variant not already finished in `out` with the executor chosen; returns the sweep.json document.
    Raises VariantsFailed at the end when some failed (after writing every row and the reports)."""
    from mnd.pipeline.export.run import check_target

    target = check_target(config.target, config.measure, device=False)  # `mnd sweep` checked the device already
    limits = target_limits(target, config.flash_kb, config.ram_kb, config.part)
    classes, channels = _shape(config)
    settings = config.settings(classes, channels)
    new_folder = not Path(out).exists()
    rows = {(row.get("alpha"), row.get("resolution")): row for row in open_folder(out, settings, force, inputs)}
    executor = make_executor(choice.name, choice.jobs, choice.address, target, config.measure)
    try:
        return _run_grid(config, Path(out), settings, rows, limits, classes, channels, executor)
    except BaseException:
        if new_folder and _holds_no_row(Path(out)):
            shutil.rmtree(out)  # stopped before the first row: nothing of this sweep is left
        raise


def _run_grid(config: SweepConfig, out: Path, settings: dict, rows: dict, limits: list, classes: int,
              channels: int, executor) -> dict:
    from mnd.pipeline.sweep.report import write_reports

    grid = variants(config.alphas, config.sides, classes, channels, config.family)
    grid_doc = {"alpha": list(config.alphas), "resolution": list(config.sides)}
    for row in rows_from_manifests(out, grid, rows, limits, with_accuracy=not config.cost_only):
        rows[(row["alpha"], row["resolution"])] = row
        append_row(out, row)
    done = [v for v in grid if is_finished(rows.get(v.key))]
    if done:
        log.info("resuming %s: %d of %d variants finished earlier are kept", out, len(done), len(grid))
    if not (out / SWEEP_FILE).exists():
        write_sweep(out, settings, grid_doc, _ordered(rows, grid), executor.describe())  # marks the folder
    tasks = [VariantTask(v, config, out.resolve(), limits) for v in grid if v not in done]
    appended = False
    bar = SweepBar(len(grid), len(done))
    try:
        with executor if tasks else contextlib.nullcontext(), \
                contextlib.closing(executor.rows(tasks, bar.running)) as finished:  # nothing to run: no Ray started
            for task, row in finished:
                rows[task.variant.key] = row
                append_row(out, row)
                missing = run_directory_missing(out, row)
                if missing:
                    log.warning("%s", missing)
                appended = True
                bar.finished(task.variant.name, row["status"])
    except BaseException:
        if appended:  # stopped: the rows so far (a run that added none leaves sweep.json as it was)
            write_sweep(out, settings, grid_doc, _ordered(rows, grid), executor.describe())
        raise
    finally:
        bar.close()
    doc = write_sweep(out, settings, grid_doc, _ordered(rows, grid), executor.describe())
    write_reports(Path(out), doc)
    failed = [row["name"] for row in doc["rows"] if row["status"] == "failed"]
    if failed:
        raise VariantsFailed(f"{len(failed)} of {len(doc['rows'])} variants failed ({', '.join(failed)}); their "
                             f"errors are in {Path(out) / 'sweep.json'} — fix the cause and rerun the same command "
                             "to retry only those")
    return doc


def _shape(config: SweepConfig) -> tuple:
    """(classes, channels) of every variant: the cost-only ones as given, the trained ones the dataset's own (which
    is loaded here once, so that a missing dataset is refused before any variant starts)."""
    if config.cost_only:
        return config.classes, config.channels
    from mnd.pipeline.data.datasets import load_dataset, native_channels
    from mnd.pipeline.data.preprocess import Preprocessing

    channels = native_channels(config.dataset)
    dataset = load_dataset(config.dataset, Preprocessing(side=min(config.sides), channels=channels))
    return len(dataset.class_names), channels


def _holds_no_row(out: Path) -> bool:
    """Whether `out` holds nothing but this sweep's own record, and no row in it."""
    if not out.is_dir():
        return False
    names = {path.name for path in out.iterdir()}
    rows = out / ROWS_FILE
    return names <= {SWEEP_FILE, ROWS_FILE} and (not rows.exists() or rows.stat().st_size == 0)


def _ordered(rows: dict, grid: list) -> list:
    """This grid's rows in its order, then the rows of earlier grids with the same settings."""
    keys = [variant.key for variant in grid]
    return [rows[key] for key in keys if key in rows] + [row for key, row in rows.items() if key not in keys]
