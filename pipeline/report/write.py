"""Writing a run's reports (report.md and report.html): into a staging directory during an export, or replacing the
old ones atomically in a published run, each through a temporary file so a failure leaves the old one."""
import os
import stat
from pathlib import Path

from mnd.pipeline import rundir
from mnd.pipeline.report.html import render_html
from mnd.pipeline.report.markdown import render


def run_reports(manifest, run_path: str) -> dict:
    """{file name: text}; `run_path`: where the run lives once published (the reports name it in their next command)."""
    return {"report.md": render(manifest, run_path), "report.html": render_html(manifest, run_path)}


def write_reports(run_dir: Path, manifest, run_path: str) -> Path:
    """Both reports into `run_dir` (a staging directory of this process); the path of report.html."""
    for name, text in run_reports(manifest, run_path).items():
        (run_dir / name).write_text(text)
    return run_dir / "report.html"


def replace_files(folder: Path, texts: dict, fallback_mode: int) -> None:
    """Each {name: text} replaces the old file atomically (all written before the first rename: rundir.replace_files),
    keeping the mode it had (`fallback_mode` when it is gone or not a regular file)."""
    rundir.replace_files(folder, texts, {name: file_mode(folder / name, fallback_mode) for name in texts})


def file_mode(path: Path, fallback: int) -> int:
    """The permission bits of the regular file at `path` (not following a symbolic link), else `fallback`."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return fallback
    return stat.S_IMODE(status.st_mode) if stat.S_ISREG(status.st_mode) else fallback


def rerender_run(run_dir: Path) -> Path:
    """RUN/report.md and RUN/report.html again from RUN/manifest.json (checked first), replaced atomically; the
    path of report.html."""
    from mnd.pipeline.manifest import Manifest

    manifest = Manifest.read(run_dir)
    rundir.require_writable(run_dir)
    fallback = stat.S_IMODE(os.stat(run_dir / "manifest.json").st_mode)  # read and checked inside the run
    replace_files(run_dir, run_reports(manifest, str(run_dir)), fallback)
    return run_dir / "report.html"


def write_comparison(run_dirs: list, destination) -> Path:
    """A comparison of the runs (each manifest checked first) published at `destination` (claimed by the caller:
    pipeline/rundir.py), built beside it and renamed into place; the path of its report.html."""
    import json

    from mnd.pipeline.manifest import Manifest
    from mnd.pipeline.report.compare import comparison_html, comparison_markdown, comparison_record, run_names

    runs = [(name, path, Manifest.read(path)) for name, path in zip(run_names(run_dirs), run_dirs)]
    out_path = str(destination.path)
    texts = {"report.md": comparison_markdown(runs, out_path), "report.html": comparison_html(runs, out_path),
             "manifest.json": json.dumps(comparison_record(runs), indent=2) + "\n"}
    staging = rundir.staging_dir(destination)
    try:
        for name, text in texts.items():
            (staging / name).write_text(text)
    except BaseException:
        rundir.discard(staging, destination)
        raise
    rundir.publish(staging, destination)
    return destination.path / "report.html"
