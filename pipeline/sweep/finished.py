"""Which variants of a sweep are finished, so that running the same command again keeps them.

A variant is finished when its row in rows.jsonl says "measured" or "does not fit" (a "failed" one runs again).
Its row is appended only after its export published variants/<name>/ (one atomic rename, manifest.json last in it);
a sweep stopped between the two (a crash, SIGTERM or Ctrl-C while other variants ran on) leaves a variant whose
run directory holds a manifest that `Manifest.read` accepts, every artifact's size and sha256 as recorded: that
variant is finished too, and its row is rebuilt from the manifest (its `seconds` unknown). Anything else in
variants/<name>/ (a half-written folder, a file) is no finished variant: it runs again, replacing it."""
import logging
from pathlib import Path

from mnd.base.errors import MndError
from mnd.pipeline.sweep.rows import measured_row

log = logging.getLogger("mnd")
FINISHED = ("measured", "does not fit")


def is_finished(row: dict | None) -> bool:
    return bool(row) and row.get("status") in FINISHED


def rows_from_manifests(out: Path, grid: list, rows: dict, limits: list, with_accuracy: bool) -> list:
    """The rows of variants whose export was published but whose row was never recorded."""
    from mnd.pipeline.manifest import Manifest

    recovered = []
    for variant in grid:
        run = Path(out) / "variants" / variant.name
        if is_finished(rows.get(variant.key)) or not (run / "manifest.json").is_file():
            continue
        try:
            manifest = Manifest.read(run)
        except (MndError, OSError, ValueError):
            continue
        log.info("%s: its export finished before the sweep stopped; its row is rebuilt from %s/manifest.json",
                 variant.name, run)
        recovered.append(measured_row(variant, f"variants/{variant.name}", manifest, limits, with_accuracy))
    return recovered


def run_directory_missing(out: Path, row: dict) -> str | None:
    """The warning for a measured row whose run directory this machine does not have: a Ray node that ran it
    wrote it to a sweep folder of its own, not a shared one (docs/SWEEPS_RAY.md, shared storage)."""
    if row.get("status") != "measured" or not row.get("run_dir"):
        return None
    if (Path(out) / row["run_dir"] / "manifest.json").is_file():
        return None
    return (f"warning: {row['name']}: its run directory {Path(out) / row['run_dir']} is not on this machine: the "
            "node that ran it does not share the sweep folder, so its row is kept but the report cannot link its "
            "artifacts; mount the same shared folder at this path on every node (docs/SWEEPS_RAY.md)")
