"""The training input: images/s of one epoch streamed from the decoded-image cache against the in-memory
TrainingData it replaces for folders, on the same images and split, for the pipeline alone (no model) and for
training mobilenet_v1_025_96 on it; and the cold cache build. Every figure from one run."""
import os
import tempfile
import time
from pathlib import Path

from mnd.pipeline.environment import cpu_facts
from tests.synthetic_images import image_folder, jpegs

IMAGES = 4_000
BATCH = 64
TRAIN_EPOCHS = 2


def run() -> str:
    from mnd.base.quiet import import_tensorflow_quietly

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
        pairs = (("in memory", in_memory), ("streamed", streamed))
        rates = {name: _images_per_second(data) for name, data in pairs}
        training = {name: _training_images_per_second(data) for name, data in pairs}
    ratio = rates["streamed"] / rates["in memory"]
    return "\n".join([
        "## Training input pipeline alone: streamed from the decoded cache vs in memory (`make bench`)", "",
        f"Machine: {cpu_facts()['cpu_model']}, {os.cpu_count()} cores (shared, loaded). {IMAGES:,} 96x96 JPEG files (2 classes), "
        f"one epoch of training batches of {BATCH} (shift augmentation, model input float32), iterated without a "
        "model after a warm-up epoch; both in one run.", "",
        "| pipeline | images/s |", "|---|---|",
        f"| in memory (ArrayTrainingData) | {rates['in memory']:.0f} |",
        f"| streamed from the cache (CachedTrainingData) | {rates['streamed']:.0f} |",
        f"| ratio streamed / in memory | {ratio:.2f} |", "",
        f"Cold cache build (fingerprint every file for the key, list, decode and resize in {os.cpu_count()} "
        f"threads, write, publish): {IMAGES / build_s:.0f} images/s; the in-memory loader (list, decode and resize "
        f"in one thread): {IMAGES / load_s:.0f} images/s.", "",
        f"Training on it: mobilenet_v1_025_96 from scratch, `loop.train` (the default strategy), global batch {BATCH}, "
        f"{TRAIN_EPOCHS} epochs, images/s of the last epoch's steps (the first traces the step; validation left out):",
        "", "| pipeline | training images/s |", "|---|---|",
        f"| in memory | {training['in memory']:.0f} |", f"| streamed | {training['streamed']:.0f} |",
        f"| ratio streamed / in memory | {training['streamed'] / training['in memory']:.2f} |"])


def _training_images_per_second(data) -> float:
    from dataclasses import replace

    from mnd.pipeline.data.preprocess import Preprocessing
    from mnd.pipeline.model.registry import parse_model_name
    from mnd.pipeline.training.fit import TrainConfig
    from mnd.pipeline.training.loop import train

    spec = replace(parse_model_name("mobilenet_v1_025_96", None, channels=3), classes=len(data.class_names))
    seconds = []

    class Timer:
        def __init__(self, *_):
            self.started = time.monotonic()

        def update(self, *_args, **_kwargs):
            self.last = time.monotonic()

        def close(self, **_):
            seconds.append(self.last - self.started)

    train(spec, Preprocessing(side=96, channels=3), data, TrainConfig(epochs=TRAIN_EPOCHS, batch_size=BATCH),
          progress=Timer)
    return (data.train_samples // BATCH) * BATCH / seconds[-1]


def _images_per_second(data) -> float:
    for _ in data.train_batches(0, BATCH):
        pass
    started = time.monotonic()
    batches = sum(1 for _ in data.train_batches(1, BATCH))
    return batches * BATCH / (time.monotonic() - started)

