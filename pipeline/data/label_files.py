"""Datasets described by a label file: EEMBC/MLPerf `y_labels.csv` + raw .bin, ImageNet-style `labels.csv`."""
import csv
from functools import partial
from pathlib import Path

import numpy as np

from mnd.base.errors import DataError
from mnd.base.paths import inside
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.image_sources import UNREADABLE, ImageListing, load_listing
from mnd.pipeline.data.images import fit_array, fit_image, open_image
from mnd.pipeline.data.preprocess import Preprocessing

LABEL_FILES = ("y_labels.csv", "labels.csv")
BACKGROUND_CLASSES = 1001  # ImageNet models with a background class at index 0
INDEX_COLUMNS_1000 = ("index_1000", "index", "label", "class")


def find_label_file(path: Path) -> Path | None:
    if path.is_file() and path.suffix == ".csv":
        return path
    if path.is_dir():
        return next((path / name for name in LABEL_FILES if (path / name).is_file()), None)
    return None


def read_label_file(label_file: Path, prep: Preprocessing, classes: int | None) -> Dataset:
    return load_listing(list_label_file(label_file, classes), prep)


def list_label_file(label_file: Path, classes: int | None) -> ImageListing:
    """The rows' files and labels, every row checked (labels, paths, files present) before any file is read."""
    rows = _rows(label_file)
    if not rows:
        raise DataError(f"label file '{label_file}' has no rows; add one line per image")
    if rows[0][0].lower().endswith(".bin"):
        return _list_eembc(label_file, rows, classes)
    return _list_image_list(label_file, rows, classes)


def _rows(label_file: Path) -> list:
    with open(label_file, newline="") as stream:
        return [row for row in csv.reader(stream) if row and any(cell.strip() for cell in row)]


def _row_path(label_file: Path, name) -> Path:
    """The file a row names, refused unless it lies inside the label file's folder (after symbolic links)."""
    return inside(label_file.parent, name, f"'{label_file}': row", error=DataError,
                  fix="label rows name files inside the dataset folder; move the file there or fix the row")


def _check_labels(label_file: Path, names: list, labels: list, classes: int) -> None:
    bad = [(name, label) for name, label in zip(names, labels) if not 0 <= label < classes]
    if bad:
        raise DataError(f"'{label_file}': label {bad[0][1]} of '{bad[0][0]}' is outside the model's {classes} "
                        f"classes ({len(bad)} such rows); give labels 0..{classes - 1}")


def _missing(label_file: Path, missing: list) -> DataError:
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return DataError(f"'{label_file}' names files that do not exist: {missing[0]}{more}; "
                     "fix the label file or put the files beside it")


def _list_eembc(label_file: Path, rows: list, classes: int | None) -> ImageListing:
    """Rows `name.bin,num_classes,label`; raw uint8 HWC files beside the label file or in bin/."""
    folder = label_file.parent
    names = [row[0].strip() for row in rows]
    try:
        labels = [int(row[2]) for row in rows]
        declared = max(int(row[1]) for row in rows)
    except (IndexError, ValueError):
        raise DataError(f"'{label_file}' is not an EEMBC label file (rows 'name.bin,classes,label')") from None
    classes = classes or declared
    _check_labels(label_file, names, labels, classes)
    paths = [_eembc_path(label_file, name) for name in names]  # every row checked before any file is touched
    missing = [name for name, path in zip(names, paths) if not path.is_file()]
    if missing:
        raise _missing(label_file, missing)
    return ImageListing(folder.name, folder, tuple(paths), tuple(path.name for path in paths),
                        np.asarray(labels, dtype=np.int64), tuple(str(i) for i in range(classes)), _read_bin)


def _eembc_path(label_file: Path, name: str) -> Path:
    """An EEMBC row's file: beside the label file, else in bin/."""
    beside, in_bin = _row_path(label_file, name), _row_path(label_file, Path("bin") / name)
    return beside if beside.is_file() else in_bin


def member_names(label_file: Path) -> list:
    """The files a label-file dataset reads, relative to its folder, sorted: the label file and each row's file."""
    rows = _rows(label_file)
    if rows and rows[0][0].lower().endswith(".bin"):
        paths = [_eembc_path(label_file, row[0].strip()) for row in rows]
    else:
        header = [cell.strip().lower() for cell in rows[0]] if rows else []
        column, body = (header.index("file"), rows[1:]) if "file" in header else (0, rows)
        paths = [_row_path(label_file, row[column].strip()) for row in body]
    folder = label_file.parent.resolve()
    return sorted({label_file.name, *(path.relative_to(folder).as_posix() for path in paths)})


def _read_bin(path: Path, prep: Preprocessing, name: str) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    area = prep.side * prep.side
    for channels in (prep.channels, 3):
        if data.size == area * channels:
            return fit_array(data.reshape(prep.side, prep.side, channels), prep, name)
    raise DataError(f"'{path}' has {data.size} bytes but the model input {prep.side}x{prep.side}x{prep.channels} "
                    f"needs {area * prep.channels}; give .bin files of the model's input shape")


def _index_column(header: list, classes: int | None) -> tuple:
    """(column, offset): which class-index column to read, and +1 for 1000-class indices into 1001 outputs."""
    lowered = [name.strip().lower() for name in header]
    if classes == BACKGROUND_CLASSES and "index_1001_with_background" in lowered:
        return lowered.index("index_1001_with_background"), 0
    for name in INDEX_COLUMNS_1000:
        if name in lowered:
            return lowered.index(name), 1 if classes == BACKGROUND_CLASSES else 0
    raise DataError(f"label header {header} has no class index column; name one of {', '.join(INDEX_COLUMNS_1000)}")


def _list_image_list(label_file: Path, rows: list, classes: int | None) -> ImageListing:
    """Rows `file,class_index` (optionally under a header with a 'file' column); 1000-class indices get +1
    when the model has 1001 outputs (background at 0)."""
    header = [cell.strip().lower() for cell in rows[0]]
    if "file" in header:
        file_column, (index_column, offset) = header.index("file"), _index_column(rows[0], classes)
        rows = rows[1:]
    else:
        file_column, index_column, offset = 0, 1, 1 if classes == BACKGROUND_CLASSES else 0
    try:
        names = [row[file_column].strip() for row in rows]
        labels = [int(row[index_column]) + offset for row in rows]
    except (IndexError, ValueError):
        raise DataError(f"'{label_file}' rows must be 'file,class_index'") from None
    classes = classes or max(labels) + 1
    _check_labels(label_file, names, labels, classes)
    folder = label_file.parent
    paths = [_row_path(label_file, name) for name in names]  # every row checked before any file is touched
    missing = [name for name, path in zip(names, paths) if not path.is_file()]
    if missing:
        raise _missing(label_file, missing)
    return ImageListing(folder.name, folder, tuple(paths), tuple(names), np.asarray(labels, dtype=np.int64),
                        tuple(str(i) for i in range(classes)), partial(_read_listed_image, label_file))


def _read_listed_image(label_file: Path, path: Path, prep: Preprocessing, name: str) -> np.ndarray:
    try:
        with open_image(path) as image:
            return fit_image(image, prep, name)
    except UNREADABLE:
        raise DataError(f"'{label_file.parent / name}' is not a readable image; fix or remove its row in "
                        f"'{label_file}'") from None
