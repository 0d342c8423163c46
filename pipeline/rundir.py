"""Run directories, written atomically: claim `--out` before any work, build beside it, publish by one rename
that never overwrites what the claim did not check, and leave nothing behind on failure."""
import ctypes
import errno
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mnd.base.errors import OutputError, OutputExists

RENAME_NOREPLACE = 1  # linux/fs.h
AT_FDCWD = -100
TEMPORARY_CHARACTERS = 8  # what mkdtemp adds to a prefix


@dataclass(frozen=True)
class Destination:
    path: Path                       # absolute, symlinks resolved
    replaces: tuple | None = None    # identity of the run directory --force allowed us to replace
    first_missing: Path | None = None  # the highest parent this run creates (removed again on failure)


def claim(out: Path, force: bool, inputs=()) -> Destination:
    """Check `out` before any work. It may not be, contain or lie inside an input (model, data, cache), nor be the
    working directory or one of its parents; an existing one is replaced only with --force, and only when it is
    an earlier mnd run directory or empty."""
    try:
        return _claim(out, force, inputs)
    except OSError as error:  # a name too long, a parent that is a file, a loop of symlinks
        raise OutputError(f"cannot use --out '{out}': {error.strerror or error}; choose another --out") from None


def _claim(out: Path, force: bool, inputs) -> Destination:
    path = Path(out).expanduser().resolve()
    for source in inputs:
        source = Path(source).expanduser().resolve()
        if path == source or path in source.parents or source in path.parents:
            raise OutputError(f"--out '{out}' overlaps the input '{source}'; choose an output outside every input")
    cwd = Path.cwd().resolve()
    if path == cwd or path in cwd.parents:
        raise OutputError(f"--out '{out}' is the working directory or contains it; give a new directory's name")
    if not os.path.lexists(path):
        missing = [parent for parent in (path, *path.parents) if not parent.exists()]
        _probe(missing[-1].parent)
        return Destination(path, None, missing[-1] if len(missing) > 1 else None)
    if not force:
        raise OutputExists(f"output '{out}' exists; pass --force to replace it or choose another --out")
    if path.is_symlink() or not path.is_dir() or not _replaceable(path):
        raise OutputError(f"--force replaces only an earlier mnd run directory or an empty one, and '{out}' is "
                          "neither; move it away or choose another --out")
    _probe(path.parent)
    return Destination(path, _identity(path))


def _probe(folder: Path) -> None:
    """A read-only, immutable or non-folder parent is refused before the work, not when publishing it. access(2)
    honours read-only mounts and immutable folders even for root, and changes nothing (not even an mtime)."""
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"'{folder}' is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"nothing can be created in '{folder}'")


def require_writable(folder: Path) -> None:
    """An existing run or sweep folder that mnd rewrites in place (measure, report, a resumed sweep), refused
    before the work when nothing can be created in it."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"'{folder}' is read-only here (mode, mount or immutable attribute), and mnd rewrites files "
                          "in it; make it writable or work on a copy of it")


def staging_dir(destination: Destination) -> Path:
    """An empty private directory beside the destination, on the same file system, so publishing is one rename."""
    try:
        destination.path.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=sibling_prefix(destination.path, "partial"), dir=destination.path.parent))
    except OSError as error:
        discard(None, destination)
        raise OutputError(f"cannot create the output '{destination.path}': {error.strerror or error}; "
                          "choose another --out") from None


def publish(staging: Path, destination: Destination) -> None:
    """Rename staging into place. What appeared or changed at the destination since the claim is kept as it is and
    this run is discarded; a failed rename puts back what it had moved."""
    try:
        staging.chmod(0o755)  # mkdtemp made it private
        if destination.replaces is None:
            _rename_noreplace(staging, destination.path)
            return
        if not os.path.lexists(destination.path) or _identity(destination.path) != destination.replaces:
            raise OutputError(f"'{destination.path}' changed while this run was being built; it was kept as it is "
                              "and this run discarded")
        _replace(staging, destination.path)
    except BaseException:
        discard(staging, destination)
        raise


def _replace(staging: Path, path: Path) -> None:
    """Move the old run aside, the new one in, then delete the old one; on failure put the old one back."""
    retired = Path(tempfile.mkdtemp(prefix=sibling_prefix(path, "old"), dir=path.parent))
    moved = False
    try:
        _rename_noreplace(path, retired / "run")
        moved = True
        _rename_noreplace(staging, path)
    except BaseException:
        if moved:
            _rename_noreplace(retired / "run", path)  # if this fails too, the old run stays in `retired`
        retired.rmdir()
        raise
    shutil.rmtree(retired, ignore_errors=True)


def discard(staging: Path | None, destination: Destination | None = None) -> None:
    """Remove the staging directory and any parent directory this run created."""
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    if destination is not None and destination.first_missing is not None:
        parent = destination.path.parent
        while parent != destination.first_missing.parent and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def sibling_prefix(path: Path, tag: str) -> str:
    """'.<name>.<tag>-', the prefix of a hidden temporary sibling of `path` (mkdtemp adds 8 characters), with the
    name cut short where needed so that the sibling's name fits the folder's NAME_MAX even when `path`'s uses it
    all: every staging and backup name derived from --out comes from here."""
    suffix = f".{tag}-"
    room = _name_max(path.parent) - len(os.fsencode("." + suffix)) - TEMPORARY_CHARACTERS
    name = os.fsencode(path.name)[:max(room, 0)].decode("utf-8", "ignore")  # never half a character
    return f".{name}{suffix}"


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def write_json(path: Path, doc) -> None:
    replace_files(path.parent, {path.name: json.dumps(doc, indent=2, sort_keys=False) + "\n"})


def replace_files(folder: Path, texts: dict, modes: dict | None = None) -> None:
    """Every {name: text} into a new temporary file in `folder` first, then each renamed over the old one (never
    through a symbolic link there): a refused write (disk full, file size limit) leaves every old file as it was
    and no temporary file behind. A file takes its mode from `modes`, else 0o666 less the umask."""
    written = {}
    try:
        for name, text in texts.items():
            written[name] = _write_temporary(Path(folder), name, text, (modes or {}).get(name))
        for name, temporary in written.items():
            os.replace(temporary, Path(folder) / name)
    finally:
        for temporary in written.values():
            temporary.unlink(missing_ok=True)


def _write_temporary(folder: Path, name: str, text: str, mode: int | None) -> Path:
    """A new hidden file beside folder/name holding `text`; an OSError names folder/name, the file it was for."""
    while True:
        path = folder / f"{sibling_prefix(folder / name, 'tmp')}{secrets.token_hex(4)}"
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(folder / name)) from None
    try:
        with os.fdopen(handle, "w") as stream:
            if mode is not None:
                os.fchmod(stream.fileno(), mode)
            stream.write(text)
    except OSError as error:
        path.unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(folder / name)) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _replaceable(path: Path) -> bool:
    if not any(path.iterdir()):
        return True
    try:
        schema = json.loads((path / "manifest.json").read_text()).get("schema", "")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(schema, str) and schema.startswith("mnd.")


def _identity(path: Path) -> tuple:
    stat = os.lstat(path)
    return stat.st_dev, stat.st_ino, stat.st_mtime_ns


def _rename_noreplace(source: Path, target: Path) -> None:
    """rename(2) that fails instead of replacing an existing target (renameat2 RENAME_NOREPLACE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), RENAME_NOREPLACE) == 0:
        return
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS) and not os.path.lexists(target):  # no RENAME_NOREPLACE on this fs
        os.rename(source, target)
        return
    if code in (errno.EEXIST, errno.EINVAL, errno.ENOSYS):
        raise OutputExists(f"'{target}' appeared while this run was being built; it was kept as it is and this "
                           "run discarded (rerun with another --out)")
    raise OutputError(f"cannot publish the run to '{target}': {os.strerror(code)}; nothing was changed there")
