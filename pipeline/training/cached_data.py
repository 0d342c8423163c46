"""TrainingData streamed from the decoded-image cache (data.decoded_cache): the training.training_data contract for
image folders and label files of any size. Only the labels and the epoch's order (O(N) integers) are in memory;
pixels are read record by record (os.pread) in the epoch order array_data gives, augmented in a parallel map,
batched and prefetched, so memory is bounded by those buffers, not by the dataset. With the same split, seed and
pixels it yields exactly the batches ArrayTrainingData yields."""
import os

import numpy as np

from mnd.pipeline.data.decoded_cache import DecodedCache
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.training import augment
from mnd.pipeline.training.array_data import epoch_order, model_input, worker_positions

READ_CHUNK = 64  # records read per generator step: fewer Python round trips into tf.data


class CachedTrainingData:
    def __init__(self, cache: DecodedCache, train_indices: np.ndarray, val_indices: np.ndarray, prep: Preprocessing,
                 augmentation: augment.Augmentation, seed: int, class_weights: np.ndarray | None = None):
        self._cache, self._prep, self._augmentation, self._seed = cache, prep, augmentation, seed
        self._train, self._val = np.asarray(train_indices, np.int64), np.asarray(val_indices, np.int64)
        classes = len(cache.class_names)
        self._weights = np.ones(classes, np.float32) if class_weights is None else class_weights
        self.train_samples, self.val_samples = len(self._train), len(self._val)
        self.class_names = cache.class_names

    def train_batches(self, epoch: int, global_batch: int, worker: int = 0, workers: int = 1):
        import tensorflow as tf

        positions = worker_positions(epoch_order(self._seed, epoch, self.train_samples), global_batch, worker, workers)
        weights = tf.constant(self._weights.astype(np.float32))
        seed, augmentation, prep = self._seed, self._augmentation, self._prep

        def example(image, label, position):
            image = augment.apply(image, augmentation, augment.example_seed(seed, epoch, position))
            return model_input(image, prep), label, tf.gather(weights, label)

        return (self._records(self._train[positions], positions)
                .map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(global_batch // workers, drop_remainder=True).prefetch(2))

    def validation_batches(self, batch: int):
        import tensorflow as tf

        prep = self._prep
        return (self._records(self._val, np.arange(self.val_samples))
                .map(lambda image, label, _: (model_input(image, prep), label),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(batch).prefetch(2))

    def _records(self, indices: np.ndarray, positions: np.ndarray):
        """(uint8 image, int32 label, int64 position) for each cache record in `indices`, in that order."""
        import tensorflow as tf

        cache = self._cache
        labels = cache.labels.astype(np.int32)

        def chunks():
            fd = os.open(cache.records_file(), os.O_RDONLY)
            try:
                for start in range(0, len(indices), READ_CHUNK):
                    chunk = indices[start:start + READ_CHUNK]
                    yield (np.stack([cache.read(fd, index) for index in chunk]), labels[chunk],
                           positions[start:start + READ_CHUNK])
            finally:
                os.close(fd)

        shape = tuple(cache.record_shape)
        signature = (tf.TensorSpec((None, *shape), tf.uint8), tf.TensorSpec((None,), tf.int32),
                     tf.TensorSpec((None,), tf.int64))
        return tf.data.Dataset.from_generator(chunks, output_signature=signature).unbatch()

    def describe(self) -> dict:
        return {**self._cache.describe(), "augmentation": self._augmentation.describe(),
                "class_weights": [round(float(w), 6) for w in self._weights]}
