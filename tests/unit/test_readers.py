"""Label-file datasets (EEMBC .bin + y_labels.csv, ImageNet-style labels.csv), bilinear resize, crops."""
import numpy as np
import pytest
from PIL import Image

from mnd.base.errors import DataError
from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.images import bilinear_resize, central_crop_box
from mnd.pipeline.data.preprocess import Preprocessing


def write_bins(folder, count=4, shape=(8, 8, 3), in_bin_dir=True, labels=None):
    rng = np.random.default_rng(0)
    target = folder / "bin" if in_bin_dir else folder
    target.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        rng.integers(0, 256, size=shape, dtype=np.uint8).tofile(target / f"{i:04d}.bin")
        rows.append(f"{i:04d}.bin,2,{labels[i] if labels else i % 2}")
    (folder / "y_labels.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.parametrize("in_bin_dir", [True, False])
def test_eembc_bins_beside_or_under_bin(tmp_path, in_bin_dir):
    folder = write_bins(tmp_path / "vww", in_bin_dir=in_bin_dir)
    data = load_dataset(str(folder), Preprocessing(side=8), classes=2)
    assert data.pixels.shape == (4, 8, 8, 3) and data.labels.tolist() == [0, 1, 0, 1]
    raw = np.fromfile(folder / ("bin" if in_bin_dir else "") / "0001.bin", dtype=np.uint8).reshape(8, 8, 3)
    assert np.array_equal(data.pixels[1], raw)


@pytest.mark.parametrize("problem, message", [
    ("size", "needs 192"), ("missing", "do not exist: 0003.bin"), ("label", "outside the model's 2 classes")])
def test_eembc_bad_input(tmp_path, problem, message):
    folder = write_bins(tmp_path / "vww", shape=(8, 8, 2) if problem == "size" else (8, 8, 3),
                        labels=[0, 1, 0, 5] if problem == "label" else None)
    if problem == "missing":
        (folder / "bin" / "0003.bin").unlink()
    with pytest.raises(DataError, match=message):
        load_dataset(str(folder), Preprocessing(side=8), classes=2)


def test_rgb_bins_into_a_grayscale_model_need_a_rule(tmp_path):
    folder = write_bins(tmp_path / "vww")
    with pytest.raises(DataError, match="--to-gray"):
        load_dataset(str(folder), Preprocessing(side=8, channels=1), classes=2)
    gray = load_dataset(str(folder), Preprocessing(side=8, channels=1, to_gray=True), classes=2)
    assert gray.pixels.shape == (4, 8, 8, 1)


def test_labels_csv_with_background_offset(tmp_path):
    (tmp_path / "images").mkdir()
    for name in ("a", "b"):
        Image.new("RGB", (20, 10), (10, 20, 30)).save(tmp_path / "images" / f"{name}.jpg")
    (tmp_path / "labels.csv").write_text("file,index_1000\nimages/a.jpg,0\nimages/b.jpg,999\n")
    assert load_dataset(str(tmp_path), Preprocessing(side=8), classes=1000).labels.tolist() == [0, 999]
    assert load_dataset(str(tmp_path), Preprocessing(side=8), classes=1001).labels.tolist() == [1, 1000]
    (tmp_path / "labels.csv").write_text("images/a.jpg,3\nimages/c.jpg,4\n")
    with pytest.raises(DataError, match="images/c.jpg"):
        load_dataset(str(tmp_path), Preprocessing(side=8), classes=10)


def test_bilinear_matches_tensorflow_half_pixel_resize():
    import tensorflow as tf

    pixels = np.random.default_rng(1).integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    for side in (16, 32, 128):
        expected = np.clip(np.rint(tf.image.resize(pixels, [side, side], method="bilinear").numpy()), 0, 255)
        assert np.max(np.abs(bilinear_resize(pixels, side).astype(int) - expected.astype(int))) <= 1


def test_central_crop_box_follows_tensorflow_rounding():
    assert central_crop_box((256, 341), 0.875) == (16, 21, 240, 320)
