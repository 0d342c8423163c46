"""`mnd sweep`: every alpha x resolution variant built (or trained), exported and measured on one target, one row
each appended to out/SWEEP/rows.jsonl as it finishes, then sweep.json, report.md and report.html over the whole
grid."""
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from mnd.pipeline import interrupts
from mnd.pipeline.errors import Interrupted, MndError
from mnd.pipeline.progress import bars_enabled
from mnd.pipeline.refused_writes import refused_write
from mnd.pipeline.sweep.fits import cannot_fit, target_limits
from mnd.pipeline.sweep.folder import SWEEP_FILE, open_folder, write_sweep
from mnd.pipeline.sweep.grid import variants
from mnd.pipeline.sweep.record import ROWS_FILE, append_row
from mnd.pipeline.sweep.rows import failed_row, measured_row, not_run_row
from mnd.targets.base import MeasureSettings

log = logging.getLogger("mnd")
FINISHED = ("measured", "does not fit")  # a failed variant is tried again when the sweep is resumed


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
                "clock_mhz": self.measure.clock_mhz, "board": board.ssh or board.serial}


def run_sweep(config: SweepConfig, out: Path, force: bool = False, inputs=()) -> dict:
    """Runs every variant not already finished in `out`; returns the sweep.json document. Raises VariantsFailed
    at the end when some failed (after writing every row and the reports)."""
    from mnd.pipeline.export.run import check_target

    target = check_target(config.target, config.measure, device=False)  # `mnd sweep` checked the device already
    limits = target_limits(target, config.flash_kb, config.ram_kb, config.part)
    classes, channels = _shape(config)
    settings = config.settings(classes, channels)
    new_folder = not Path(out).exists()
    rows = {(row.get("alpha"), row.get("resolution")): row for row in open_folder(out, settings, force, inputs)}
    try:
        return _run_grid(config, Path(out), settings, rows, limits, classes, channels)
    except BaseException:
        if new_folder and _holds_no_row(Path(out)):
            shutil.rmtree(out)  # stopped before the first row: nothing of this sweep is left
        raise


def _run_grid(config: SweepConfig, out: Path, settings: dict, rows: dict, limits: list, classes: int,
              channels: int) -> dict:
    from mnd.pipeline.sweep.report import write_reports

    grid = variants(config.alphas, config.sides, classes, channels, config.family)
    grid_doc = {"alpha": list(config.alphas), "resolution": list(config.sides)}
    done = [v for v in grid if rows.get(v.key, {}).get("status") in FINISHED]
    if done:
        log.info("resuming %s: %d of %d variants finished earlier are kept", out, len(done), len(grid))
    if not (out / SWEEP_FILE).exists():
        write_sweep(out, settings, grid_doc, _ordered(rows, grid))  # marks the folder as this sweep's before any variant
    appended = False
    bar = tqdm(total=len(grid), initial=len(done), desc="mnd: sweep", unit="variant", file=sys.stderr,
               disable=not bars_enabled(), dynamic_ncols=True, leave=True)
    try:
        for variant in grid:
            if variant in done:
                continue
            bar.set_postfix_str(variant.name)
            if bar.disable:
                log.info("variant %d of %d: %s", len(done) + 1, len(grid), variant.name)
            rows[variant.key] = _run_variant(variant, config, Path(out), limits)
            append_row(out, rows[variant.key])
            appended = True
            done.append(variant)
            bar.update(1)
    except BaseException:
        if appended:  # stopped: the rows so far (a run that added none leaves sweep.json as it was)
            write_sweep(out, settings, grid_doc, _ordered(rows, grid))
        raise
    finally:
        bar.close()
    doc = write_sweep(out, settings, grid_doc, _ordered(rows, grid))
    write_reports(Path(out), doc)
    failed = [row["name"] for row in doc["rows"] if row["status"] == "failed"]
    if failed:
        raise VariantsFailed(f"{len(failed)} of {len(doc['rows'])} variants failed ({', '.join(failed)}); their "
                             f"errors are in {Path(out) / 'sweep.json'} — fix the cause and rerun the same command "
                             "to retry only those")
    return doc


def _run_variant(variant, config: SweepConfig, out: Path, limits: list) -> dict:
    reason = cannot_fit(variant, limits)
    if reason:
        log.info("%s does not fit, not run: %s", variant.name, reason)
        return not_run_row(variant, reason)
    start = time.monotonic()
    try:
        row = _export_variant(variant, config, out, limits)
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


def _export_variant(variant, config: SweepConfig, out: Path, limits: list) -> dict:
    from mnd.pipeline import rundir
    from mnd.pipeline.export.run import ExportConfig, export
    from mnd.pipeline.progress import EpochBar
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


def _free_keras_models() -> None:
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
