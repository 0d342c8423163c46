"""TrainingData over a dataset held in memory (the built-in datasets): the training.training_data contract."""
import numpy as np

from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.training import augment


def epoch_order(seed: int, epoch: int, samples: int) -> np.ndarray:
    """The training examples' order in `epoch`: a permutation fixed by (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(samples)


def worker_positions(order: np.ndarray, global_batch: int, worker: int, workers: int) -> np.ndarray:
    """Worker `worker`'s share of each full global batch of `order`, batch after batch."""
    steps = len(order) // global_batch
    share = global_batch // workers
    batches = order[:steps * global_batch].reshape(steps, global_batch)
    return batches[:, worker * share:(worker + 1) * share].reshape(-1)


class ArrayTrainingData:
    def __init__(self, train_set: Dataset, val_set: Dataset, prep: Preprocessing, augmentation: augment.Augmentation,
                 seed: int, class_weights: np.ndarray | None = None):
        self._train, self._val, self._prep = train_set, val_set, prep
        self._augmentation, self._seed = augmentation, seed
        self._weights = np.ones(len(train_set.class_names), np.float32) if class_weights is None else class_weights
        self.train_samples, self.val_samples = len(train_set), len(val_set)
        self.class_names = train_set.class_names

    def train_batches(self, epoch: int, global_batch: int, worker: int = 0, workers: int = 1):
        import tensorflow as tf

        positions = worker_positions(epoch_order(self._seed, epoch, self.train_samples), global_batch, worker, workers)
        pixels, labels = tf.constant(self._train.pixels), tf.constant(self._train.labels.astype(np.int32))
        weights = tf.constant(self._weights.astype(np.float32))
        seed, augmentation, prep = self._seed, self._augmentation, self._prep

        def example(index):
            image = augment.apply(tf.gather(pixels, index), augmentation, augment.example_seed(seed, epoch, index))
            label = tf.gather(labels, index)
            return model_input(image, prep), label, tf.gather(weights, label)

        return (tf.data.Dataset.from_tensor_slices(positions)
                .map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(global_batch // workers, drop_remainder=True).prefetch(tf.data.AUTOTUNE))

    def validation_batches(self, batch: int):
        import tensorflow as tf

        x = self._prep.apply(self._val.pixels)
        return tf.data.Dataset.from_tensor_slices((x, self._val.labels.astype(np.int32))).batch(batch)

    def describe(self) -> dict:
        return {"pipeline": "in memory", "augmentation": self._augmentation.describe(),
                "class_weights": [round(float(w), 6) for w in self._weights]}


def model_input(image, prep: Preprocessing):
    """uint8 pixels -> float32 model input, as Preprocessing.apply (TensorFlow ops)."""
    import tensorflow as tf

    return prep.scale(tf.cast(image, tf.float32))
