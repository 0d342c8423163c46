"""Temporary directories that a signal cannot leave behind."""
import contextlib
import shutil
import tempfile
from pathlib import Path

from mnd.base import interrupts


@contextlib.contextmanager
def temporary_directory(prefix: str, dir=None):
    """Like tempfile.TemporaryDirectory, but creating and removing it happen with signals deferred: a KeyboardInterrupt
    raised by the signal handler between mkdtemp and the `with` body, or in the middle of the removal, would leave
    it behind. A signal that arrived meanwhile is raised once the directory is gone."""
    with interrupts.deferred():
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
    try:
        interrupts.raise_if_requested()
        yield path
    finally:
        with interrupts.deferred():
            shutil.rmtree(path, ignore_errors=True)
    interrupts.raise_if_requested()
