"""The TrainingData a run reads: the built-in datasets in memory (training.array_data), image folders and label
files streamed from the decoded-image cache (training.cached_data), split the same way either way."""
from dataclasses import dataclass
from pathlib import Path

from mnd.pipeline.data import decoded_cache
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.datasets import BUILTIN, list_images, load_dataset, stratified_indices, stratified_split
from mnd.pipeline.data.image_sources import ImageListing
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.training import augment
from mnd.pipeline.training.array_data import ArrayTrainingData
from mnd.pipeline.training.cached_data import CachedTrainingData
from mnd.pipeline.training.class_weights import class_weights


@dataclass(frozen=True)
class RunInputs:
    data: object  # a training_data.TrainingData
    name: str
    samples: int
    class_names: tuple

    def describe(self) -> dict:
        """The manifest's dataset fields, as data.dataset.Dataset.describe gives them."""
        return {"name": self.name, "samples": self.samples, "classes": len(self.class_names),
                "class_names": list(self.class_names)}


def list_source(source: str, prep: Preprocessing) -> Dataset | ImageListing:
    """A built-in dataset loaded (small), or the files of a folder or label-file dataset listed and checked, none
    decoded: either way its class names are known before anything slow starts."""
    return load_dataset(source, prep) if source in BUILTIN else list_images(source)


def training_inputs(listed: Dataset | ImageListing, prep: Preprocessing, config, side: int, val_split: float,
                    files_sha256: str | None, cache_root: Path) -> RunInputs:
    """`listed` from list_source; `config` (fit.TrainConfig) gives the augmentation, class-weight rule and seed;
    `files_sha256` is the dataset's fingerprint (data.fingerprint), part of the decoded cache's key; the cache lives
    under `cache_root` (MND_CACHE, which the commands read)."""
    augmentation = augment.Augmentation(tuple(config.augment), int(round(config.max_shift * side)))
    if isinstance(listed, Dataset):
        dataset = listed
        train_set, val_set = stratified_split(dataset, val_split)
        weights = class_weights(config.class_weights, train_set.labels, len(dataset.class_names))
        data = ArrayTrainingData(train_set, val_set, prep, augmentation, config.seed, weights)
        return RunInputs(data, dataset.name, len(dataset), dataset.class_names)
    cache = decoded_cache.open_or_build(listed, prep, files_sha256, cache_root)
    train, val = stratified_indices(cache.labels, len(cache.class_names), val_split)
    weights = class_weights(config.class_weights, cache.labels[train], len(cache.class_names))
    data = CachedTrainingData(cache, train, val, prep, augmentation, config.seed, weights)
    return RunInputs(data, cache.name, len(cache), cache.class_names)

