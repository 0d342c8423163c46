"""The streamed TrainingData: the same split and the same batches as the in-memory one, worker shares, class
weights; the augmentation options each change pixels, deterministically per (seed, epoch, example)."""
import numpy as np
import pytest

from mnd.base.errors import UsageError
from mnd.pipeline.data import decoded_cache, fingerprint
from mnd.pipeline.data.datasets import list_images, load_dataset, stratified_indices, stratified_split
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.training import augment
from mnd.pipeline.training.array_data import ArrayTrainingData
from mnd.pipeline.training.cached_data import CachedTrainingData
from mnd.pipeline.training.class_weights import class_weights
from tests.unit.test_data import make_folder

PREP = Preprocessing(mode="signed", side=8, channels=3)
EVERY = augment.Augmentation(tuple(augment.OPTIONS), max_shift=1)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(in-memory, streamed) TrainingData of one 3-class folder, split and weighted the same way."""
    tmp = tmp_path_factory.mktemp("stream")
    root = make_folder(tmp / "pets", classes=("cat", "dog", "owl"), per_class=11)
    memory = load_dataset(str(root), PREP)
    train_set, val_set = stratified_split(memory, 0.25)
    weights = class_weights("balanced", train_set.labels, 3)
    cache = decoded_cache.open_or_build(list_images(str(root)), PREP, fingerprint.take(str(root))["sha256"], tmp)
    train, val = stratified_indices(cache.labels, 3, 0.25)
    return (ArrayTrainingData(train_set, val_set, PREP, EVERY, seed=5, class_weights=weights),
            CachedTrainingData(cache, train, val, PREP, EVERY, seed=5, class_weights=weights), memory, (train, val))


def _batches(data, epoch, worker=0, workers=1, global_batch=8):
    return [tuple(t.numpy() for t in batch) for batch in data.train_batches(epoch, global_batch, worker, workers)]


def test_streamed_batches_are_the_in_memory_batches(both):
    memory_data, streamed, _, _ = both
    assert (streamed.train_samples, streamed.val_samples) == (memory_data.train_samples, memory_data.val_samples)
    for epoch in (1, 2):
        ours, theirs = _batches(streamed, epoch), _batches(memory_data, epoch)
        assert len(ours) == len(theirs) == streamed.train_samples // 8 > 1
        for a, b in zip(ours, theirs):
            assert all(np.array_equal(x, y) for x, y in zip(a, b))
    ours = [tuple(t.numpy() for t in batch) for batch in streamed.validation_batches(4)]
    theirs = [tuple(t.numpy() for t in batch) for batch in memory_data.validation_batches(4)]
    assert all(np.array_equal(x, y) for a, b in zip(ours, theirs) for x, y in zip(a, b))


def test_the_split_from_labels_holds_out_the_examples_the_in_memory_split_does(both):
    _, _, memory, (train, val) = both
    train_set, val_set = stratified_split(memory, 0.25)
    assert np.array_equal(memory.pixels[val], val_set.pixels) and np.array_equal(memory.pixels[train], train_set.pixels)
    assert len(val) == round(33 * 0.25)


def test_two_workers_share_every_global_batch(both):
    _, streamed, _, _ = both
    one, halves = _batches(streamed, 3), [_batches(streamed, 3, w, 2) for w in (0, 1)]
    for k, batch in enumerate(one):
        for part in range(3):
            assert np.array_equal(batch[part], np.concatenate([halves[0][k][part], halves[1][k][part]]))


def test_balanced_weights_are_n_over_classes_times_count_and_ride_with_each_example(both):
    assert np.allclose(class_weights("balanced", np.array([0, 0, 0, 1]), 3), [4 / 9, 4 / 3, 0.0])
    assert class_weights("none", np.array([0, 1]), 2).tolist() == [1.0, 1.0]
    with pytest.raises(UsageError, match="balanced"):
        class_weights("inverse", np.array([0]), 1)
    _, streamed, memory, (train, _) = both
    _, y, weight = _batches(streamed, 1)[0]
    assert np.allclose(weight, class_weights("balanced", memory.labels[train], 3)[y]) and len(set(weight)) > 1


def test_each_augmentation_changes_pixels_the_same_way_for_the_same_seed_epoch_and_example():
    import tensorflow as tf

    image = tf.constant(np.random.default_rng(1).integers(0, 256, (16, 16, 3)), tf.uint8)
    for option in augment.OPTIONS:
        chosen = augment.Augmentation((option,), max_shift=2)

        def run(epoch, index):
            return augment.apply(image, chosen, augment.example_seed(0, epoch, index)).numpy()

        out = [run(1, index) for index in range(16)]
        assert all(o.shape == (16, 16, 3) and o.dtype == np.uint8 for o in out)
        assert np.array_equal(out[0], run(1, 0)), option
        assert sum(not np.array_equal(o, image.numpy()) for o in out) >= 4, option
        assert len({o.tobytes() for o in out + [run(2, 0)]}) >= 2, option


def test_augment_option_lists_are_parsed_in_a_fixed_order_and_typos_are_refused():
    assert augment.parse_options("flip,shift") == ("shift", "flip") and augment.parse_options("none") == ()
    with pytest.raises(UsageError, match="unknown augmentation 'flp'"):
        augment.parse_options("flp")
