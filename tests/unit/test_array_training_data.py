"""The in-memory TrainingData: n workers see exactly the global batches one worker sees, augmented the same way."""
import numpy as np
import pytest

from mnd.base.errors import UsageError
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.training.array_data import ArrayTrainingData
from mnd.pipeline.training.augment import Augmentation
from mnd.pipeline.training.training_data import check_global_batch


def _data(max_shift=2):
    rng = np.random.default_rng(0)
    dataset = Dataset("x", rng.integers(0, 255, (100, 8, 8, 1), dtype=np.uint8), rng.integers(0, 3, 100),
                      ("a", "b", "c"))
    return ArrayTrainingData(dataset, dataset, Preprocessing("unit", 8, 1), Augmentation(("shift",), max_shift), seed=0,
                             class_weights=np.array([1.0, 2.0, 0.5], np.float32)), dataset


def _batches(data, epoch, worker=0, workers=1, global_batch=16):
    return [tuple(t.numpy() for t in batch) for batch in data.train_batches(epoch, global_batch, worker, workers)]


def test_two_workers_split_every_global_batch_of_one_worker():
    data, _ = _data()
    one, halves = _batches(data, 1), [_batches(data, 1, w, 2) for w in (0, 1)]
    assert len(one) == 100 // 16 and one[0][0].shape == (16, 8, 8, 1) and halves[0][0][0].shape == (8, 8, 8, 1)
    for k, (x, y, weight) in enumerate(one):
        assert np.array_equal(x, np.concatenate([halves[0][k][0], halves[1][k][0]]))
        assert np.array_equal(y, np.concatenate([halves[0][k][1], halves[1][k][1]]))
        assert np.array_equal(weight, np.array([1.0, 2.0, 0.5], np.float32)[y])


def test_order_and_shift_change_with_the_epoch_and_repeat_within_it():
    data, _ = _data()
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(_batches(data, 3), _batches(data, 3)))
    assert not np.array_equal(_batches(data, 3)[0][1], _batches(data, 4)[0][1])
    unshifted, _ = _data(max_shift=0)
    assert not np.array_equal(_batches(data, 3)[0][0], _batches(unshifted, 3)[0][0])


def test_validation_is_every_example_once_unaugmented():
    data, dataset = _data()
    x = np.concatenate([x.numpy() for x, _ in data.validation_batches(32)])
    assert np.array_equal(x, dataset.pixels / np.float32(255.0))


def test_global_batch_is_clamped_to_the_data_and_a_multiple_of_the_workers():
    assert check_global_batch(32, 2, 100) == 32 and check_global_batch(32, 3, 100) == 30
    assert check_global_batch(64, 2, 21) == 20
    with pytest.raises(UsageError, match="fewer workers"):
        check_global_batch(32, 4, 3)
