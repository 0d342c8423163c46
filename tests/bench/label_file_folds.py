"""Two fixed, stratified halves of an EEMBC label-file dataset (y_labels.csv rows `name.bin,classes,label` and the
.bin files), each written as a dataset of its own: for a two-fold benchmark (train on one half, evaluate on the
other, then swap)."""
import csv
import shutil
from pathlib import Path


def read_rows(label_file: Path) -> list:
    """The label file's rows as (name, classes, label) string tuples, in file order."""
    with open(label_file, newline="") as stream:
        return [tuple(cell.strip() for cell in row[:3]) for row in csv.reader(stream) if row and row[0].strip()]


def stratified_halves(rows: list) -> tuple:
    """(first, second): each class's rows sorted by name, alternately dealt to the first and the second half (the
    first gets the extra one of an odd class). No randomness: the same rows give the same halves."""
    first, second = [], []
    for label in sorted({row[2] for row in rows}):
        for index, row in enumerate(sorted(row for row in rows if row[2] == label)):
            (first if index % 2 == 0 else second).append(row)
    return sorted(first), sorted(second)


def write_dataset(rows: list, source: Path, destination: Path) -> Path:
    """A label-file dataset at `destination`: y_labels.csv with `rows` and a copy of each row's .bin under bin/
    (copies, not links: mnd refuses label rows whose files resolve outside the dataset's folder)."""
    (destination / "bin").mkdir(parents=True)
    for name, _, _ in rows:
        beside = source / name
        shutil.copyfile(beside if beside.is_file() else source / "bin" / name, destination / "bin" / name)
    (destination / "y_labels.csv").write_text("".join(f"{name},{classes},{label}\n" for name, classes, label in rows))
    return destination


def two_folds(source: Path, work: Path) -> tuple:
    """(half_a, half_b): the dataset at `source` split by `stratified_halves` and written under `work`."""
    first, second = stratified_halves(read_rows(source / "y_labels.csv"))
    return write_dataset(first, source, work / "half_a"), write_dataset(second, source, work / "half_b")
