"""Atomic output directories: build beside the destination, rename into place at the end."""
import json
import shutil
import tempfile
from pathlib import Path

from mnd.pipeline.errors import OutputExists


def refuse_existing(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise OutputExists(f"output '{out}' exists; pass --force to replace it or choose another --out")


def staging_dir(out: Path) -> Path:
    """An empty directory beside `out` on the same file system, so the final rename is atomic."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))


def publish(staging: Path, out: Path) -> None:
    """Replace `out` with `staging` (the caller checked --force)."""
    staging.chmod(0o755)  # mkdtemp made it private
    if out.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(retired / out.name)
        staging.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def write_json(path: Path, doc) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    temporary.replace(path)
