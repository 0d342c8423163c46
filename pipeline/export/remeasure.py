"""`mnd measure`: run a target's measurements again on an existing export, without re-exporting."""
import os
import stat
from dataclasses import replace
from pathlib import Path

from mnd.base.errors import ModelError, UsageError
from mnd.pipeline import rundir
from mnd.pipeline.data.plan import given_evaluation, reload_evaluation
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.export.run import check_target, measure_on, with_board_fit, with_target_result
from mnd.pipeline.manifest import REEXPORT, Manifest
from mnd.pipeline.report.write import replace_files, run_reports


def remeasure(run_dir: Path, target_name: str, settings, evaluation_data: str | None = None,
              board=None) -> Manifest:
    """`evaluation_data`: --eval DATA, read instead of the source the manifest records (which is read only while it
    matches the fingerprint taken at export); the manifest then records DATA. `board` (--board, a boards.Board):
    whether the measured firmware fits that part is recorded as `mnd export --board` records it."""
    manifest = Manifest.read(run_dir, reload_data=True)  # schema, keys, types, artifact paths, sizes and hashes
    rundir.require_writable(run_dir)
    target = check_target(target_name, settings)
    try:
        prep = Preprocessing.from_dict(manifest.model["preprocessing"])
    except UsageError as error:
        raise ModelError(f"'{run_dir / 'manifest.json'}': model.preprocessing: {error}; {REEXPORT}") from None
    if evaluation_data is None:
        evaluation = reload_evaluation(manifest.data, prep, manifest.model["classes"], run_dir / "manifest.json")
    else:
        evaluation, record = given_evaluation(evaluation_data, manifest.data["evaluation"], prep,
                                              manifest.model["classes"])
        manifest = replace(manifest, data={**manifest.data, "evaluation": record})
    result = measure_on(target, run_dir, manifest, evaluation, settings)
    earlier = manifest.measurements if evaluation_data is None else ()  # rows on other data are dropped
    manifest = with_target_result(manifest, target, settings, result, kept_rows(earlier, result.measurements))
    manifest = with_board_fit(manifest, board) if board else manifest
    _write_atomically(run_dir, manifest)
    return manifest


def row_key(m) -> tuple:
    return m.target, m.runtime, m.artifact, m.threads, m.emulated


def kept_rows(earlier, measured) -> tuple:
    """`mnd measure`'s one rule for every target: a new row replaces the earlier row with its key (target, runtime,
    artifact, threads, emulated: a board's row through --probe stays beside the emulated one); every other earlier
    row stays."""
    new = {row_key(m) for m in measured}
    return tuple(m for m in earlier if row_key(m) not in new)


def _write_atomically(run_dir: Path, manifest: Manifest) -> None:
    """manifest.json, report.md and report.html through temporary files, so a failure leaves the old ones; each
    keeps the mode it had (a report, when it is gone or not a regular file, takes manifest.json's)."""
    fallback = stat.S_IMODE(os.stat(run_dir / "manifest.json").st_mode)  # read and checked inside the run
    replace_files(run_dir, {"manifest.json": manifest.to_json(), **run_reports(manifest, str(run_dir))}, fallback)
