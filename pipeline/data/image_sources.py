"""The images a dataset is made of, listed and checked before any is decoded, then decoded one by one with the same
code whether they go to memory (datasets.load_dataset) or to the on-disk cache (data.stream.decoded_cache), so
training and evaluation see identical pixels and the same warnings and errors."""
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import UnidentifiedImageError

from mnd.base.errors import DataError
from mnd.pipeline.data.class_names import check_class_names
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.images import fit_image, open_image
from mnd.pipeline.data.preprocess import Preprocessing

log = logging.getLogger("mnd")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


@dataclass(frozen=True)
class ImageListing:
    """`files[i]` (shown as `names[i]` in messages) has label `labels[i]`; `decode_one(path, prep, name)` gives its
    uint8 [side, side, channels] pixels, or None for a file skipped as unreadable (image folders only: a label file
    names its files, so one it cannot read is a DataError)."""

    name: str
    root: Path
    files: tuple
    names: tuple
    labels: np.ndarray
    class_names: tuple
    decode_one: Callable
    skips_unreadable: bool = False

    def __len__(self):
        return len(self.files)


def list_image_folder(root: Path, check_count: Callable[[int], None]) -> ImageListing:
    """One sub-folder per class (sorted), every image file under it (sorted); the class folder checks run here,
    before any image is decoded. `check_count(found)` refuses a class count the model cannot take."""
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise DataError(f"dataset '{root}' has {len(class_dirs)} class folder(s); "
                        "put each class's images in its own sub-folder (at least 2)")
    check_class_names((d.name for d in class_dirs), f"dataset '{root}'", "rename that class folder")
    check_count(len(class_dirs))
    files, labels, skipped_files = [], [], 0
    for label, class_dir in enumerate(class_dirs):
        count = 0
        for file in sorted(p for p in class_dir.rglob("*") if p.is_file()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                skipped_files += 1
                continue
            files.append(file)
            labels.append(label)
            count += 1
        if count == 0:
            raise _no_readable_images(class_dir)
    if skipped_files:
        log.warning("skipped %d non-image file(s) in '%s' (reading %s)", skipped_files, root, ", ".join(IMAGE_SUFFIXES))
    return ImageListing(root.name, root, tuple(files), tuple(str(f.relative_to(root)) for f in files),
                        np.asarray(labels, dtype=np.int64), tuple(d.name for d in class_dirs), decode_folder_image,
                        skips_unreadable=True)


def decode_folder_image(path: Path, prep: Preprocessing, name: str) -> np.ndarray | None:
    try:
        with open_image(path) as image:
            return fit_image(image, prep, name)
    except UNREADABLE:
        return None


def _no_readable_images(class_dir: Path) -> DataError:
    return DataError(f"class folder '{class_dir}' has no readable images; "
                     f"add {'/'.join(s[1:] for s in IMAGE_SUFFIXES)} files or remove the folder")


def decoded(listing: ImageListing, prep: Preprocessing, threads: int = 1) -> Iterator[tuple]:
    """(index, pixels or None) for every file in listing order, decoded by `threads` threads (PIL and numpy release
    the GIL while decoding and resizing) with at most 4 x threads images in flight: memory stays bounded."""
    if threads <= 1:
        for index, (path, name) in enumerate(zip(listing.files, listing.names)):
            yield index, listing.decode_one(path, prep, name)
        return
    window = deque()
    with ThreadPoolExecutor(threads) as pool:
        try:
            for index, (path, name) in enumerate(zip(listing.files, listing.names)):
                window.append((index, pool.submit(listing.decode_one, path, prep, name)))
                if len(window) >= 4 * threads:
                    done, future = window.popleft()
                    yield done, future.result()
            while window:
                done, future = window.popleft()
                yield done, future.result()
        finally:
            for _, future in window:
                future.cancel()


def check_decoded(listing: ImageListing, readable: np.ndarray) -> None:
    """After decoding: a class left with no readable image is refused; skipped unreadable files are warned of."""
    if not listing.skips_unreadable:
        return
    counts = np.bincount(listing.labels[readable], minlength=len(listing.class_names))
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        raise _no_readable_images(listing.root / listing.class_names[empty[0]])
    corrupt = [name for name, ok in zip(listing.names, readable) if not ok]
    if corrupt:
        log.warning("skipped %d corrupt image(s): %s", len(corrupt), ", ".join(corrupt))


def load_listing(listing: ImageListing, prep: Preprocessing) -> Dataset:
    """Every image of `listing` decoded into memory."""
    pixels, readable = [], np.zeros(len(listing), dtype=bool)
    for index, image in decoded(listing, prep):
        if image is not None:
            pixels.append(image)
            readable[index] = True
    check_decoded(listing, readable)
    return Dataset(listing.name, np.stack(pixels), listing.labels[readable], listing.class_names)
