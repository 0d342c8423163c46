"""An on-disk cache of a dataset's images decoded and resized (uint8 [side, side, channels] records, one file), for
data that does not fit in memory. Built by decoding every listed image in parallel with the loader's own per-image
code (data.image_sources), written as it is decoded (memory bounded by the images in flight), published atomically
(built in a temporary folder, then renamed), and reused while its key holds: the dataset's fingerprint (names and
bytes of its files), the resize geometry and FORMAT_VERSION. The folder of entries stays under a bound, least
recently used entries not in use removed first (data.cache_room)."""
import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnd.pipeline.data import cache_room
from mnd.pipeline.data.image_sources import ImageListing, check_decoded, decoded
from mnd.pipeline.data.preprocess import Preprocessing

log = logging.getLogger("mnd")
FORMAT_VERSION = 1
RECORDS, LABELS, META = "pixels.u8", "labels.npy", "meta.json"
BUILDING = ".building-"  # + KEY-PID-RANDOM: a build's temporary folder


def cache_key(fingerprint_sha256: str, prep: Preprocessing, classes: int | None = None) -> str:
    """What the decoded pixels depend on: the files (fingerprint), the geometry that turns them into pixels, the
    class count label files are read with, and the record format. The input scaling (prep.mode) is not: records
    are raw pixels."""
    inputs = {"format": FORMAT_VERSION, "files_sha256": fingerprint_sha256, "side": prep.side,
              "channels": prep.channels, "crop_fraction": prep.crop_fraction, "resize": prep.resize,
              "to_gray": prep.to_gray, "classes": classes}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class DecodedCache:
    """A published cache: `labels` int64 [samples] in memory, pixels read record by record from `path`/RECORDS."""

    path: Path
    key: str
    name: str
    class_names: tuple
    labels: np.ndarray
    record_shape: tuple

    @property
    def record_bytes(self) -> int:
        return int(np.prod(self.record_shape))

    def __len__(self):
        return len(self.labels)

    def records_file(self) -> Path:
        return self.path / RECORDS

    def read(self, fd: int, index: int) -> np.ndarray:
        """Record `index` from the open records file `fd` (os.pread: no shared file position, no mapping that
        would count the whole file into the process's resident memory)."""
        data = os.pread(fd, self.record_bytes, int(index) * self.record_bytes)
        return np.frombuffer(data, np.uint8).reshape(self.record_shape)

    def describe(self) -> dict:
        return {"pipeline": "streamed from the decoded-image cache", "cache_key": self.key,
                "cache_path": str(self.path), "cache_format": FORMAT_VERSION}


def open_or_build(listing: ImageListing, prep: Preprocessing, fingerprint_sha256: str, cache_root: Path,
                  threads: int | None = None, classes: int | None = None) -> DecodedCache:
    """The published cache for these inputs, built first when there is none."""
    key = cache_key(fingerprint_sha256, prep, classes)
    final = cache_root / "decoded" / key
    cache = _reuse(final)
    if cache is not None:
        log.info("reusing the decoded-image cache %s (%d images, same files and geometry)", final, len(cache))
        return cache
    final.parent.mkdir(parents=True, exist_ok=True)
    cache_room.remove_abandoned(final.parent, BUILDING)
    cache_room.remove_abandoned(final.parent, cache_room.REMOVING)
    needed = len(listing) * (prep.side * prep.side * prep.channels + np.dtype(np.int64).itemsize)
    cache_room.make_room(final.parent, needed, META, listing.name)
    staging = final.parent / f"{BUILDING}{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        _build(listing, prep, key, staging, threads or os.cpu_count() or 1)
        try:
            os.rename(staging, final)
        except OSError:  # published meanwhile by another run with the same inputs: theirs is as good
            if not (final / META).is_file():
                raise
            shutil.rmtree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    cache_room.hold(final, META)
    cache = load(final)
    log.info("decoded %d images into the cache %s", len(cache), final)
    return cache


def _reuse(final: Path) -> DecodedCache | None:
    """The published entry, held for this process; None when there is none (or another run removed it just now)."""
    try:
        cache_room.hold(final, META)
        return load(final)
    except FileNotFoundError:
        return None


def _build(listing: ImageListing, prep: Preprocessing, key: str, staging: Path, threads: int) -> None:
    staging.mkdir()
    readable = np.zeros(len(listing), dtype=bool)
    shape = (prep.side, prep.side, prep.channels)
    with open(staging / RECORDS, "wb") as records:
        for index, pixels in decoded(listing, prep, threads):
            if pixels is not None:
                records.write(np.ascontiguousarray(pixels, np.uint8).tobytes())
                readable[index] = True
        records.flush()
        os.fsync(records.fileno())
    check_decoded(listing, readable)
    np.save(staging / LABELS, listing.labels[readable])
    meta = {"format": FORMAT_VERSION, "key": key, "name": listing.name, "class_names": list(listing.class_names),
            "record_shape": list(shape), "samples": int(readable.sum()), "skipped_unreadable": int((~readable).sum())}
    (staging / META).write_text(json.dumps(meta, indent=2) + "\n")


def load(path: Path) -> DecodedCache:
    meta = json.loads((path / META).read_text())
    labels = np.load(path / LABELS)
    return DecodedCache(path, meta["key"], meta["name"], tuple(meta["class_names"]), labels,
                        tuple(meta["record_shape"]))
