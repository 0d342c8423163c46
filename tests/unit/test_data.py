"""Dataset readers: built-in digits, image folders with junk in them, the stratified split."""
import logging

import numpy as np
import pytest
from PIL import Image

from mnd.base.errors import DataError, UsageError
from mnd.pipeline.data.datasets import load_dataset, stratified_split
from mnd.pipeline.data.preprocess import Preprocessing


def make_folder(root, classes=("cat", "dog"), per_class=5, size=(40, 30)):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.{('png', 'jpg', 'bmp')[i % 3]}")
    return root


def test_digits_is_builtin_and_resized():
    data = load_dataset("digits", Preprocessing(side=32, channels=1))
    assert data.pixels.shape == (1797, 32, 32, 1) and data.pixels.dtype == np.uint8
    assert sorted(set(data.labels.tolist())) == list(range(10))
    assert data.pixels.max() == 255


DIGITS_SHA256_PREFIX = "87ff0c9e40dc7e2c"  # of images + labels bytes, computed from scikit-learn 1.9.1's load_digits()


def test_shipped_digits_are_the_uci_set_as_scikit_learn_bundles_it():
    """Class counts and a digest of the 8x8 scans, as scikit-learn 1.9.1's load_digits() returns them."""
    import hashlib

    from mnd.pipeline.data.datasets import DIGITS_FILE

    with np.load(DIGITS_FILE) as digits:
        images, labels = digits["images"], digits["labels"]
    assert images.shape == (1797, 8, 8) and images.max() == 16
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()[:16] == DIGITS_SHA256_PREFIX


def test_folder_reads_classes_in_order_and_converts_channels(tmp_path):
    root = make_folder(tmp_path / "pets")
    rgb = load_dataset(str(root), Preprocessing(side=32, channels=3))
    gray = load_dataset(str(root), Preprocessing(side=32, channels=1, to_gray=True))
    assert rgb.class_names == ("cat", "dog") and rgb.pixels.shape == (10, 32, 32, 3)
    assert gray.pixels.shape == (10, 32, 32, 1)
    assert rgb.labels.tolist() == [0] * 5 + [1] * 5


def test_colour_into_a_grayscale_model_needs_a_conversion_rule(tmp_path):
    root = make_folder(tmp_path / "pets")
    with pytest.raises(DataError, match="--to-gray"):
        load_dataset(str(root), Preprocessing(side=32, channels=1))


def test_junk_and_corrupt_files_are_skipped_with_a_warning(tmp_path, caplog):
    root = make_folder(tmp_path / "pets")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with caplog.at_level(logging.WARNING, logger="mnd"):
        data = load_dataset(str(root), Preprocessing(side=32))
    assert len(data) == 10
    assert "1 non-image file" in caplog.text
    assert "broken.jpg" in caplog.text


@pytest.mark.parametrize("layout, message", [
    ("missing", "not found"), ("one_class", "at least 2"), ("empty_class", "no readable images"), ("file", "is a file")])
def test_bad_folders_are_refused(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout == "one_class":
        make_folder(root, classes=("only",))
    elif layout == "empty_class":
        make_folder(root)
        (root / "zebra").mkdir()
    elif layout == "file":
        root.write_text("x")
    with pytest.raises(DataError, match=message):
        load_dataset(str(root), Preprocessing(side=32))


def test_split_is_stratified_disjoint_and_deterministic():
    data = load_dataset("digits", Preprocessing(side=32, channels=1))
    train_a, val_a = stratified_split(data, 0.2)
    train_b, val_b = stratified_split(data, 0.2)
    assert np.array_equal(val_a.pixels, val_b.pixels)
    assert len(train_a) + len(val_a) == len(data)
    counts = np.bincount(val_a.labels, minlength=10) / np.bincount(data.labels, minlength=10)
    assert np.all(np.abs(counts - 0.2) < 0.01)
    with pytest.raises(UsageError):
        stratified_split(data, 1.5)


def test_preprocessing_modes():
    pixels = np.array([[0, 255]], dtype=np.uint8)
    assert Preprocessing(mode="unit").apply(pixels).tolist() == [[0.0, 1.0]]
    assert Preprocessing(mode="signed").apply(pixels).tolist() == [[-1.0, 1.0]]
    assert Preprocessing(mode="raw").apply(pixels).tolist() == [[0.0, 255.0]]
    with pytest.raises(UsageError, match="did you mean 'unit'"):
        Preprocessing(mode="units")
