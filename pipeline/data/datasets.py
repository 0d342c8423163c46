"""Datasets as uint8 pixels at the model's input size: the built-in digits set and image folders."""
from pathlib import Path

import numpy as np
from PIL import Image

from mnd.base.errors import DataError, UsageError
from mnd.pipeline.data import label_files
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.image_sources import ImageListing, list_image_folder, load_listing
from mnd.pipeline.data.images import fit_image
from mnd.pipeline.data.preprocess import Preprocessing

BUILTIN = {"digits": "handwritten digits: 1,797 real 8x8 grayscale scans, 10 classes (UCI ML via scikit-learn)"}
# digits.npz: scikit-learn 1.9.1's load_digits() (sklearn/datasets/data/digits.csv.gz, BSD-3-Clause), itself
# the test set of the UCI "Optical Recognition of Handwritten Digits" data (Alpaydin & Kaynak 1998, CC BY 4.0):
# images uint8 [1797, 8, 8] in 0..16 and labels uint8 [1797], byte for byte the values load_digits() returns.
DIGITS_FILE = Path(__file__).with_name("digits.npz")
BUILTIN_CHANNELS = {"digits": 1}
BUILTIN_CLASSES = {"digits": 10}


def load_dataset(source: str, prep: Preprocessing, classes: int | None = None) -> Dataset:
    """A built-in name; a folder with one sub-folder per class; or a label file with its images:
    EEMBC/MLPerf `y_labels.csv` + raw `.bin` files, or an ImageNet-style `labels.csv` (file, class index).
    `classes`: the model's output count, which label files are checked against."""
    if source in BUILTIN:
        check_class_count(source, BUILTIN_CLASSES[source], classes)
        return _load_digits(prep)
    return load_listing(list_images(source, classes), prep)


def list_images(source: str, classes: int | None = None) -> ImageListing:
    """The files of a folder or label-file dataset with their labels, checked, none decoded yet."""
    check_dataset(source)
    path = Path(source)
    label_file = label_files.find_label_file(path)
    if label_file is not None:
        return label_files.list_label_file(label_file, classes)
    if not path.is_dir():
        raise DataError(f"dataset '{source}' is a file; give a folder with one sub-folder per class "
                        "or a y_labels.csv / labels.csv file")
    return list_image_folder(path, lambda found: check_class_count(str(path), found, classes))


def check_class_count(source: str, found: int, classes: int | None) -> None:
    """A dataset of `found` classes is refused unless the model has as many outputs (`classes`; None: no model yet):
    its labels would name outputs that do not exist, or the wrong ones. Label files check each row's label."""
    if classes is not None and found != classes:
        raise DataError(f"dataset '{source}' has {found} classes but the model outputs {classes}; "
                        "give data with the model's classes")


def check_dataset(source: str) -> None:
    """Refuses a dataset that is neither built in nor there, before anything is loaded (or TensorFlow started)."""
    if source not in BUILTIN and not Path(source).exists():
        raise DataError(f"dataset '{source}' not found; give an image folder with one sub-folder per class, "
                        f"a folder with y_labels.csv or labels.csv, or a built-in name ({', '.join(BUILTIN)})")


def native_channels(source: str) -> int:
    """The channel count a dataset naturally has: 1 for the grayscale built-ins, else RGB."""
    return BUILTIN_CHANNELS.get(source, 3)


def _load_digits(prep: Preprocessing) -> Dataset:
    with np.load(DIGITS_FILE) as digits:
        images, labels = digits["images"], digits["labels"]
    scans = np.rint(images * (255.0 / 16.0)).astype(np.uint8)
    pixels = np.stack([fit_image(Image.fromarray(scan, mode="L"), prep, "digits") for scan in scans])
    return Dataset("digits", pixels, labels.astype(np.int64), tuple(str(d) for d in range(10)))


def _class_quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """How many of each class to hold out so the quotas sum to `total` (largest remainder), keeping at least
    one sample on each side for every class that has two or more (when `total` allows one per class)."""
    if total == 0:
        return np.zeros_like(counts)
    exact = counts * (total / counts.sum())
    quotas = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - quotas), kind="stable")[: total - quotas.sum()]:
        quotas[index] += 1
    at_least = 1 if total >= np.count_nonzero(counts > 1) else 0  # fewer samples than classes: some get none
    return np.where(counts > 1, np.clip(quotas, at_least, counts - 1), 0)


def check_split_fraction(fraction: float) -> None:
    if not 0 < fraction < 1:
        raise UsageError(f"split fraction {fraction} is out of range; use a value between 0 and 1 (e.g. 0.2)")


def stratified_split(dataset: Dataset, fraction: float, seed: int = 0) -> tuple:
    """Deterministic split keeping class proportions: (rest, held_out) with about fraction * n held out."""
    rest, held_out = stratified_indices(dataset.labels, len(dataset.class_names), fraction, seed)
    return dataset.subset(rest), dataset.subset(held_out)


def stratified_indices(labels: np.ndarray, classes: int, fraction: float, seed: int = 0) -> tuple:
    """stratified_split from the labels alone: (rest, held_out) index arrays, ascending, so a dataset in memory and
    one streamed from disk split the same examples the same way. Classes with a single sample cannot be
    stratified; they are pooled and split at random."""
    check_split_fraction(fraction)
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels, minlength=classes)
    multi = counts > 1
    quotas = _class_quotas(np.where(multi, counts, 0), int(round(counts[multi].sum() * fraction)))
    held_out = []
    for label, take in enumerate(quotas):
        held_out.extend(rng.permutation(np.flatnonzero(labels == label))[:take].tolist())
    singletons = np.flatnonzero(np.isin(labels, np.flatnonzero(counts == 1)))
    held_out.extend(rng.permutation(singletons)[: int(round(len(singletons) * fraction))].tolist())
    mask = np.zeros(len(labels), dtype=bool)
    mask[held_out] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def stratified_subset(dataset: Dataset, count: int, seed: int = 1) -> Dataset:
    """At most `count` samples keeping class proportions, always the same ones for the same input."""
    if count >= len(dataset):
        return dataset
    _, chosen = stratified_split(dataset, count / len(dataset), seed=seed)
    return chosen
