"""The data a run was made from, fingerprinted (the names of its folder's files and a hash of their bytes): an
export's evaluation data, which `mnd measure` reloads, and a training run's dataset, which `mnd export --model RUN`
calibrates and evaluates on by default. mnd reads the folder a manifest names only while it still holds exactly
that data: a manifest can come from anyone, and must not make mnd list or read another folder (/etc, a home
directory)."""
import hashlib
import os
from pathlib import Path

from mnd.base.errors import DataError, MndError
from mnd.base.paths import inside
from mnd.pipeline.data import label_files
from mnd.pipeline.data.datasets import BUILTIN

GIVE_EVAL = "give the evaluation data on the command line: mnd measure RUN --eval DATA"
GIVE_CALIB = "give the data on the command line: --calib DATA (and --eval DATA)"


def data_root(source: str) -> Path:
    """The folder a dataset lives in: the source itself, or the folder of a label file given as the source."""
    path = Path(source)
    return path if path.is_dir() else path.parent


def take(source: str) -> dict | None:
    """{"files": relative names, "sha256": hash of names and bytes} of the dataset's files; None for a built-in set
    (shipped inside the package)."""
    if source in BUILTIN:
        return None
    root = data_root(source)
    names = _members(source)
    return {"files": names, "sha256": _digest(root, names)}


def _members(source: str) -> list:
    """The files a dataset is made of, relative to its folder: a label file and the files its rows name (nothing
    else in that folder), or every file of an image folder."""
    label_file = label_files.find_label_file(Path(source))
    return label_files.member_names(label_file) if label_file is not None else _files(Path(source))


def verify(source: str, recorded: dict | None, manifest_path: Path, fix: str = GIVE_EVAL) -> None:
    """Refuses (one DataError line that shows nothing found under `source` and ends with `fix`) unless `source`
    holds exactly the recorded files with the recorded bytes. The recorded names are opened first, each inside the
    folder; the folder is listed only after their bytes matched, to find files added since."""
    if source in BUILTIN:
        return
    shown = repr(source)[:120]
    if recorded is None:
        raise DataError(f"'{manifest_path}' records no fingerprint of its data {shown} (written before mnd "
                        f"recorded them), and mnd reads no folder a manifest names without one; {fix}")
    try:
        root = data_root(source)
        names = recorded["files"]
        for name in names:
            if not inside(root, name, "file", error=DataError).is_file():
                raise DataError("not a regular file")
        same = _digest(root, names) == recorded["sha256"] and _members(source) == names
    except (MndError, OSError, ValueError, RuntimeError, IndexError):
        same = False
    if not same:
        raise DataError(f"'{manifest_path}': the data {shown} is not what it was when the run was made (its files "
                        "or their bytes differ from the fingerprint recorded then), so it is not read; restore that "
                        f"data, or {fix}")


def _files(root: Path) -> list:
    """Sorted relative names of the files under root (a link to a file counts; linked folders are not entered).
    `verify` refuses links that lead out of the folder, as label files' rows are refused."""
    names = []
    for folder, _, files in os.walk(root):
        names += [(Path(folder) / name).relative_to(root).as_posix() for name in files
                  if (Path(folder) / name).is_file()]
    return sorted(names)


def _digest(root: Path, names: list) -> str:
    whole = hashlib.sha256()
    for name in names:
        with open(root / name, "rb") as stream:
            whole.update(name.encode("utf-8", "surrogateescape") + b"\0")
            whole.update(hashlib.file_digest(stream, "sha256").digest())
    return whole.hexdigest()
