"""The training input pipeline alone (no model): images/s of one epoch streamed from the decoded-image cache against
the in-memory TrainingData it replaces for folders, on the same images and split; and the cold cache build."""
import os
import platform
import tempfile
import time
from pathlib import Path

from tests.synthetic_images import image_folder, jpegs

IMAGES = 4_000
BATCH = 64


def run() -> str:
    from mnd.pipeline.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnd.pipeline.data import decoded_cache, fingerprint
    from mnd.pipeline.data.datasets import list_images, load_dataset, stratified_indices, stratified_split
    from mnd.pipeline.data.preprocess import Preprocessing
    from mnd.pipeline.training.array_data import ArrayTrainingData
    from mnd.pipeline.training.augment import Augmentation
    from mnd.pipeline.training.cached_data import CachedTrainingData

    prep, augmentation = Preprocessing(side=96, channels=3), Augmentation(("shift",), max_shift=8)
    with tempfile.TemporaryDirectory() as tmp:
        root = image_folder(Path(tmp) / "folder", IMAGES, jpegs(256))
        started = time.monotonic()
        memory = load_dataset(str(root), prep)
        load_s = time.monotonic() - started
        started = time.monotonic()
        cache = decoded_cache.open_or_build(list_images(str(root)), prep, fingerprint.take(str(root))["sha256"],
                                            Path(tmp) / "cache")
        build_s = time.monotonic() - started
        train_set, val_set = stratified_split(memory, 0.2)
        train, val = stratified_indices(cache.labels, 2, 0.2)
        in_memory = ArrayTrainingData(train_set, val_set, prep, augmentation, seed=0)
        streamed = CachedTrainingData(cache, train, val, prep, augmentation, seed=0)
        rates = {name: _images_per_second(data) for name, data in (("in memory", in_memory), ("streamed", streamed))}
    ratio = rates["streamed"] / rates["in memory"]
    return "\n".join([
        "## Training input pipeline alone: streamed from the decoded cache vs in memory (`make bench`)", "",
        f"Machine: {_cpu()}, {os.cpu_count()} cores (shared, loaded). {IMAGES:,} 96x96 JPEG files (2 classes), "
        f"one epoch of training batches of {BATCH} (shift augmentation, model input float32), iterated without a "
        "model after a warm-up epoch; both in one run.", "",
        "| pipeline | images/s |", "|---|---|",
        f"| in memory (ArrayTrainingData) | {rates['in memory']:.0f} |",
        f"| streamed from the cache (CachedTrainingData) | {rates['streamed']:.0f} |",
        f"| ratio streamed / in memory | {ratio:.2f} |", "",
        f"Cold cache build (fingerprint every file for the key, list, decode and resize in {os.cpu_count()} "
        f"threads, write, publish): {IMAGES / build_s:.0f} images/s; the in-memory loader (list, decode and resize "
        f"in one thread): {IMAGES / load_s:.0f} images/s."])


def _images_per_second(data) -> float:
    for _ in data.train_batches(0, BATCH):
        pass
    started = time.monotonic()
    batches = sum(1 for _ in data.train_batches(1, BATCH))
    return batches * BATCH / (time.monotonic() - started)


def _cpu() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()
