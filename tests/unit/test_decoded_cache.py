"""The decoded-image cache: the in-memory loader's pixels, warnings and errors; keyed by its inputs; published
atomically; reused."""
import logging

import numpy as np
import pytest
from PIL import Image

from mnd.base.errors import DataError
from mnd.pipeline.data import decoded_cache, fingerprint
from mnd.pipeline.data.datasets import list_images, load_dataset
from mnd.pipeline.data.preprocess import Preprocessing
from tests.unit.test_data import make_folder

PREP = Preprocessing(side=8, channels=3)


def _build(source, cache_root, prep=PREP, threads=2):
    return decoded_cache.open_or_build(list_images(str(source)), prep, fingerprint.take(str(source))["sha256"],
                                       cache_root, threads=threads)


def _all_pixels(cache):
    with open(cache.records_file(), "rb") as stream:
        return np.frombuffer(stream.read(), np.uint8).reshape(-1, *cache.record_shape)


def test_records_are_the_in_memory_pixels_with_the_same_warnings(tmp_path, caplog):
    root = make_folder(tmp_path / "pets", per_class=7)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    with caplog.at_level(logging.WARNING, logger="mnd"):
        memory = load_dataset(str(root), PREP)
    in_memory_warnings = [r.getMessage() for r in caplog.records]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mnd"):
        cache = _build(root, tmp_path / "cache")
    assert [r.getMessage() for r in caplog.records] == in_memory_warnings and len(in_memory_warnings) == 2
    assert np.array_equal(_all_pixels(cache), memory.pixels)
    assert np.array_equal(cache.labels, memory.labels) and cache.class_names == memory.class_names


def test_a_label_file_dataset_caches_the_same_pixels(tmp_path):
    root = make_folder(tmp_path / "flat", classes=("x",), per_class=6)
    (root / "labels.csv").write_text("file,label\n" + "".join(f"x/{i}.{('png', 'jpg', 'bmp')[i % 3]},{i % 2}\n"
                                                              for i in range(6)))
    memory = load_dataset(str(root), PREP)
    cache = _build(root, tmp_path / "cache")
    assert np.array_equal(_all_pixels(cache), memory.pixels) and cache.labels.tolist() == [0, 1] * 3


def test_a_second_run_reuses_the_cache_and_a_changed_file_or_geometry_changes_the_key(tmp_path, caplog):
    root = make_folder(tmp_path / "pets")
    first = _build(root, tmp_path / "cache")
    with caplog.at_level(logging.INFO, logger="mnd"):
        again = _build(root, tmp_path / "cache")
    assert again.path == first.path and any("reusing the decoded-image cache" in r.getMessage() for r in caplog.records)
    assert _build(root, tmp_path / "cache", prep=Preprocessing(side=8, channels=3, crop_fraction=0.5)).key != first.key
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(root / "cat" / "0.png")
    changed = _build(root, tmp_path / "cache")
    assert changed.key != first.key and _all_pixels(changed)[0].max() == 0
    published = sorted(p.name for p in (tmp_path / "cache" / "decoded").iterdir())
    assert len(published) == 3 and not any(name.startswith(".") for name in published)


def test_an_interrupted_build_publishes_nothing_and_the_next_run_builds_it_whole(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "pets")
    real_check = decoded_cache.check_decoded

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(decoded_cache, "check_decoded", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _build(root, tmp_path / "cache")
    assert list((tmp_path / "cache" / "decoded").iterdir()) == []
    monkeypatch.setattr(decoded_cache, "check_decoded", real_check)
    killed = tmp_path / "cache" / "decoded" / f".building-{'0' * 32}-{_finished_pid()}-0badc0de"
    killed.mkdir()  # what a build killed outright (SIGKILL, power loss) leaves
    (killed.parent / f".removing-{'1' * 32}-{_finished_pid()}").mkdir()  # and a removal (data.cache_room) killed so
    assert len(_build(root, tmp_path / "cache")) == 10
    assert [p.name for p in (tmp_path / "cache" / "decoded").iterdir() if p.name.startswith(".")] == []


def _finished_pid() -> int:
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_a_class_folder_without_readable_images_is_refused_and_nothing_is_published(tmp_path):
    root = make_folder(tmp_path / "pets", per_class=2)
    for image in (root / "dog").iterdir():
        image.write_bytes(b"garbage")
    with pytest.raises(DataError, match="dog' has no readable images"):
        _build(root, tmp_path / "cache")
    with pytest.raises(DataError, match="dog' has no readable images"):
        load_dataset(str(root), PREP)
    assert list((tmp_path / "cache" / "decoded").iterdir()) == []
