"""What the training loop reads: training examples as batches (one worker's share of each global batch), the
validation examples, and what to record about them. Implementations: training.array_data (a dataset in memory) and
the streaming pipeline over the on-disk cache of decoded images."""
from typing import Protocol


class TrainingData(Protocol):
    train_samples: int
    val_samples: int
    class_names: tuple

    def train_batches(self, epoch: int, global_batch: int, worker: int = 0, workers: int = 1):
        """A tf.data.Dataset of (x float32 [b, side, side, channels] model input, augmented; y int32 [b];
        weight float32 [b], the example's class weight), b = global_batch // workers, train_samples // global_batch
        batches (the remainder is dropped). Which examples form the k-th global batch and how each is augmented
        depend only on (seed, epoch) and the example, never on the worker count: worker w gets positions
        [w * b, (w + 1) * b) of every global batch, so one worker and n workers see the same global batches."""

    def validation_batches(self, batch: int):
        """A tf.data.Dataset of (x float32, y int32): every validation example once, in a fixed order, unaugmented."""

    def describe(self) -> dict:
        """What the manifest records about the input: where it comes from, augmentation, class weights."""


def check_global_batch(global_batch: int, workers: int, train_samples: int) -> int:
    """The global batch a run can use: at most the training set, a multiple of the worker count."""
    usable = min(global_batch, train_samples) // workers * workers
    if usable == 0:
        from mnd.base.errors import UsageError

        raise UsageError(f"{train_samples} training example(s) cannot be shared by {workers} workers; "
                         "give more data or fewer workers")
    return usable
