"""Datasets from anyone: label rows that point outside the dataset folder and decompression bombs are refused
with one DataError line, before any such file is opened or decoded."""
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnd.base.errors import DataError
from mnd.pipeline.data import images
from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.images import MAX_PIXELS, open_image
from mnd.pipeline.data.preprocess import Preprocessing

PREP = Preprocessing(mode="raw", side=8, channels=3)


def bomb_png(path: Path, side: int = 20000) -> Path:
    """A valid 1-bit side x side PNG of zeros: 400 million pixels in about 50 KB, written without PIL (which
    would hold a byte per pixel)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows, compressor = b"\0" * ((1 + side // 8) * 100), zlib.compressobj(9)
    pixels = b"".join(compressor.compress(rows) for _ in range(side // 100)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def image_folder(root: Path, classes: int = 2) -> Path:
    for name in "abcdefghij"[:classes]:
        (root / name).mkdir(parents=True)
        Image.new("RGB", (8, 8), (10, 20, 30)).save(root / name / "ok.png")
    return root


def one_line(error: DataError) -> str:
    message = str(error)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------- label rows
@pytest.mark.parametrize("label_file, rows", [
    ("labels.csv", "file,index\nimages/ok.png,0\n{target},1\n"),
    ("y_labels.csv", "ok.bin,2,0\n{target},2,1\n"),
])
@pytest.mark.parametrize("how", ["climbs", "absolute"])
def test_label_rows_outside_the_dataset_are_refused_unread(tmp_path, label_file, rows, how):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * 7919)  # a size the message must not give away
    root = tmp_path / "dataset"
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "images" / "ok.png")
    (root / "ok.bin").write_bytes(bytes(8 * 8 * 3))
    target = "../secret.bin" if how == "climbs" else str(secret)
    (root / label_file).write_text(rows.format(target=target))
    with pytest.raises(DataError) as caught:
        load_dataset(str(root), PREP, classes=2)
    message = one_line(caught.value)
    assert message.startswith(f"'{root / label_file}': row '{target}' ") and "7919" not in message
    assert ("is absolute" if how == "absolute" else "leads outside") in message
    assert message.endswith("label rows name files inside the dataset folder; move the file there or fix the row")


def test_a_row_through_a_link_that_leads_out_is_refused(tmp_path):
    root = tmp_path / "dataset"
    root.mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")
    (root / "images").symlink_to(tmp_path)
    (root / "labels.csv").write_text("images/outside.png,0\n")
    with pytest.raises(DataError, match=r"row 'images/outside.png' leads outside"):
        load_dataset(str(root), PREP, classes=2)


def test_label_rows_inside_still_read(tmp_path):
    (tmp_path / "bin").mkdir()
    for name in ("a.bin", "b.bin"):
        (tmp_path / "bin" / name).write_bytes(bytes(8 * 8 * 3))
    (tmp_path / "y_labels.csv").write_text("a.bin,2,0\nb.bin,2,1\n")
    dataset = load_dataset(str(tmp_path), PREP, classes=2)
    assert dataset.labels.tolist() == [0, 1] and dataset.pixels.shape == (2, 8, 8, 3)


# ----------------------------------------------------------------------------- decompression bombs
def test_the_bomb_is_small_and_pil_takes_it_for_one(tmp_path):
    path = bomb_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 200_000
    with pytest.raises(Image.DecompressionBombError, match="400000000 pixels"):
        Image.open(path)


def test_a_bomb_in_an_image_folder_is_refused_not_skipped(tmp_path):
    root = image_folder(tmp_path / "data")
    bomb = bomb_png(root / "a" / "bomb.png")
    with pytest.raises(DataError) as caught:
        load_dataset(str(root), PREP)
    assert one_line(caught.value) == (f"'{bomb}' has more than {MAX_PIXELS:,} pixels, the limit for an input image "
                                      "(a possible decompression bomb); shrink it or remove it from the dataset")


def test_a_bomb_named_in_labels_csv_is_refused(tmp_path):
    bomb_png(tmp_path / "bomb.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    (tmp_path / "labels.csv").write_text("ok.png,0\nbomb.png,1\n")
    with pytest.raises(DataError, match=r"bomb.png' has more than 89,478,485 pixels"):
        load_dataset(str(tmp_path), PREP, classes=2)


def test_the_limit_holds_even_with_pils_check_switched_off(tmp_path, monkeypatch):
    """PIL only warns between its limit and twice it, and checks nothing with MAX_IMAGE_PIXELS = None."""
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    Image.new("L", (40, 25)).save(tmp_path / "at_the_limit.png")
    Image.new("L", (41, 25)).save(tmp_path / "over.png")
    with open_image(tmp_path / "at_the_limit.png") as image:
        assert np.asarray(image).shape == (25, 40)
    with pytest.raises(DataError, match="over.png' has more than 1,000 pixels"):
        open_image(tmp_path / "over.png")
