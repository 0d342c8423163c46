"""RUN/<target>/: the folder a target builds its project into (C sources, executables), replaced as a whole.
It is built in a fresh folder beside it and renamed into place, so nothing already in the run (a link planted
there or inside the old folder) is ever written through, and a failure leaves the old one as it was."""
import os
import shutil
import stat
import tempfile
from pathlib import Path

from mnd.base import interrupts
from mnd.base.errors import ModelError


def check_replaceable(folder: Path, run_dir: Path) -> None:
    """Refused when RUN/<name>/ exists but is not a plain folder of the run."""
    try:
        status, parent = os.lstat(folder), os.stat(run_dir)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode):
        raise ModelError(f"'{folder}' is a symbolic link; mnd writes the {folder.name} project only into a folder of "
                         "its own inside the run: remove the link and run 'mnd measure' again")
    if not stat.S_ISDIR(status.st_mode) or status.st_dev != parent.st_dev:
        raise ModelError(f"'{folder}' is not a folder of the run (a file, or another file system mounted there); "
                         "move it away and run 'mnd measure' again")


def build_in_run(run_dir: Path, name: str, build):
    """build(project) fills the new empty folder `project`; it then replaces RUN/<name>. Returns build's result."""
    final = run_dir / name
    check_replaceable(final, run_dir)
    with interrupts.deferred():  # a signal between mkdtemp and the `try` would leave the holder in the run
        holder = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=run_dir))
    try:
        interrupts.raise_if_requested()
        project = holder / name
        project.mkdir()
        if final.is_dir():
            shutil.copymode(final, project, follow_symlinks=False)
        result = build(project)
        check_replaceable(final, run_dir)
        if os.path.lexists(final):
            os.rename(final, holder / "replaced")  # moves the entry itself, removed below with the holder
        os.rename(project, final)
    finally:
        with interrupts.deferred():
            shutil.rmtree(holder, ignore_errors=True)  # never follows a symbolic link inside
    interrupts.raise_if_requested()
    return result
