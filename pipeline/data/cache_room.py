"""Room on disk for the decoded-image cache (data.decoded_cache): MND_CACHE/decoded is kept under a bound
(MND_DECODED_CACHE_GB, default 50) by removing the least recently used entries that no process is using, and a
build that cannot fit on the disk is refused before anything is decoded.

An entry in use is one whose meta file a process holds a shared lock on (`hold`, for the process's lifetime); a
removal takes the exclusive lock without waiting, so an entry in use is never removed, and renames the entry away
first, so no run finds a half-removed one."""
import fcntl
import logging
import os
import shutil
from pathlib import Path

from mnd.base.errors import DataError, UsageError

log = logging.getLogger("mnd")
BOUND_VARIABLE = "MND_DECODED_CACHE_GB"
DEFAULT_BOUND_GB = 50.0
DISK_MARGIN_BYTES = 256 << 20  # left free beyond a new entry, for everything else on that disk
REMOVING = ".removing-"  # + KEY-PID: an entry being removed
_held = []  # lock file descriptors of the entries this process uses, released when it exits


def bound_bytes() -> int:
    text = os.environ.get(BOUND_VARIABLE)
    if text is None:
        return int(DEFAULT_BOUND_GB * 1e9)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise UsageError(f"{BOUND_VARIABLE}={text!r} is not a size in GB: give a number such as "
                         f"{DEFAULT_BOUND_GB:g} (0 keeps only the datasets in use and the one being built)")
    return int(value * 1e9)


def hold(entry: Path, meta_name: str) -> None:
    """Marks `entry` in use by this process until it exits, and as just used (its meta file's mtime)."""
    fd = os.open(entry / meta_name, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _held.append(fd)
    try:
        os.utime(entry / meta_name)
    except OSError:  # a cache on a read-only mount: its order of use is not kept
        pass


def make_room(folder: Path, needed: int, meta_name: str, what: str) -> None:
    """Removes unused entries of `folder`, least recently used first, until the kept ones and `needed` more bytes
    are within the bound and fit on the disk; DataError (nothing removed beyond what was unused) if the disk
    cannot hold `needed` even then."""
    entries = sorted(published(folder, meta_name), key=lambda entry: entry[2])
    kept, bound = sum(size for _, size, _ in entries), bound_bytes()
    for path, size, _ in entries:
        over_bound = kept + needed > bound
        short_of_disk = shutil.disk_usage(folder).free < needed + DISK_MARGIN_BYTES
        if not (over_bound or short_of_disk):
            break
        if _remove_if_unused(path, meta_name):
            kept -= size
            log.info("removed the least recently used decoded-image cache %s (%s; %s=%g GB)", path.name,
                     _gigabytes(size), BOUND_VARIABLE, bound / 1e9)
    free = shutil.disk_usage(folder).free
    if free < needed + DISK_MARGIN_BYTES:
        raise DataError(f"the decoded-image cache of {what} needs {_gigabytes(needed)} in {folder} and its disk has "
                        f"{_gigabytes(free)} free: free some space, point MND_CACHE at a larger disk, or train at a "
                        "smaller --resolution")


def remove_abandoned(folder: Path, prefix: str) -> None:
    """The temporary folders `prefix`KEY-PID-... (a build's, or an entry's being removed) whose process is gone:
    killed, with no chance to clean up. Never used either way."""
    for path in folder.glob(f"{prefix}*"):
        try:
            os.kill(int(path.name[len(prefix):].split("-")[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def published(folder: Path, meta_name: str) -> list:
    """(path, bytes, last used) of each published entry of `folder`."""
    found = []
    for path in folder.iterdir():
        try:
            if path.name.startswith(".") or not (path / meta_name).is_file():
                continue
            size = sum(child.stat().st_size for child in path.iterdir() if child.is_file())
            found.append((path, size, (path / meta_name).stat().st_mtime))
        except OSError:  # removed meanwhile by another run
            continue
    return found


def _remove_if_unused(path: Path, meta_name: str) -> bool:
    try:
        fd = os.open(path / meta_name, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a run is training from it
        doomed = path.with_name(f"{REMOVING}{path.name}-{os.getpid()}")
        try:
            os.rename(path, doomed)
        except OSError:
            return False
        shutil.rmtree(doomed, ignore_errors=True)
        return True
    finally:
        os.close(fd)


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:.2f} GB"
