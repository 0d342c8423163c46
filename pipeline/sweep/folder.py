"""The sweep folder: out/SWEEP/sweep.json (settings, grid and rows; written atomically when a sweep starts and
ends), rows.jsonl (sweep.record: one line appended per finished variant), variants/<name>/ (each an export run
directory) and training/<name>/. Re-running the same command resumes it; other settings (target,
options, budgets, dataset) are refused. Rows are keyed by alpha and resolution, so another grid with the same
settings extends the sweep."""
import json
import shutil
from pathlib import Path

from mnd.base.errors import OutputError, UsageError
from mnd.pipeline import rundir
from mnd.pipeline.sweep.record import read_rows, refuse_row, row_problems, start_record

SCHEMA = "mnd.sweep/1"
SWEEP_FILE = "sweep.json"


def open_folder(out: Path, settings: dict, force: bool, inputs=()) -> list:
    """The rows an earlier run of the same sweep finished in `out` (none for a new folder). A folder made with other
    settings is refused unless `force`, which discards it; a folder that is no sweep is never touched."""
    path = Path(out).expanduser().resolve()
    if not path.exists():
        rundir.claim(path, False, inputs)  # refuses an --out that overlaps an input or holds the working directory
        path.mkdir(parents=True)
        return []
    cwd = Path.cwd().resolve()
    if path == cwd or path in cwd.parents:
        raise OutputError(f"--out '{out}' is the working directory or contains it; give a new folder's name")
    if not path.is_dir() or path.is_symlink():
        raise OutputError(f"--out '{out}' exists and is not a folder; choose another --out")
    if not (path / SWEEP_FILE).is_file():
        if any(path.iterdir()):
            raise OutputError(f"--out '{out}' exists and holds no {SWEEP_FILE}: not a sweep folder; choose another "
                              "--out (or empty it)")
        return []
    doc = read_sweep(path, check_rows=not force, forced=force)
    rundir.require_writable(path)
    if force:
        shutil.rmtree(path)
        path.mkdir()
        return []
    if doc["settings"] != settings:
        changed = ", ".join(f"{key} {_text(doc['settings'].get(key))} -> {_text(settings.get(key))}"
                            for key in sorted(set(doc["settings"]) | set(settings))
                            if doc["settings"].get(key) != settings.get(key))
        raise UsageError(f"'{out}' holds a sweep made with other settings ({changed}); pass --force to discard "
                         "it and start over, or choose another --out")
    start_record(path, doc["rows"])  # a sweep.json from before rows.jsonl: its rows carry over
    return read_rows(path)


def read_sweep(folder: Path, check_rows: bool = True, forced: bool = False) -> dict:
    """sweep.json, checked. `forced` (--force was given): a file that is no sweep mnd wrote is still refused, since
    --force discards only mnd's own sweep folders, and the error says what to do instead."""
    path = Path(folder) / SWEEP_FILE
    fix = ("--force discards only a sweep folder mnd recognises: delete the folder yourself or choose another --out"
           if forced else "pass --force to start the sweep over")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as reason:
        raise OutputError(f"'{path}' cannot be read ({reason}); {fix}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("settings"), dict) \
            or not isinstance(doc.get("rows"), list) or not all(isinstance(row, dict) for row in doc["rows"]):
        raise OutputError(f"'{path}' is not an {SCHEMA} document; {fix}")
    for number, row in enumerate(doc["rows"] if check_rows else (), 1):
        problems = row_problems(row)
        if problems:
            refuse_row(path, f"row {number}", row, problems, "pass --force to start the sweep over")
    return doc


def write_sweep(folder: Path, settings: dict, grid: dict, rows: list, executor: dict | None = None) -> dict:
    """`executor`: what ran this run's variants (sweep.executors' describe()); it is no setting, so a sweep may
    be resumed with another."""
    doc = {"schema": SCHEMA, "settings": settings, "grid": grid, "rows": rows}
    doc.update({"executor": executor} if executor else {})
    rundir.write_json(Path(folder) / SWEEP_FILE, doc)
    return doc


def _text(value) -> str:
    return "none" if value is None else json.dumps(value)
