"""Calibration and evaluation data stay disjoint, as `mnd export --help` promises: the same data under two names
is split like one --calib, two datasets sharing images are refused, and data with another class count than the
model's outputs is refused by every reader."""
import os
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from mnd.base.errors import DataError
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.plan import EVAL_FRACTION_OF_CALIB, plan_data, refuse_shared_samples, same_data
from mnd.pipeline.data.preprocess import Preprocessing

PREP = Preprocessing(mode="raw", side=8, channels=3)


def folder(root, classes: int = 2):
    for index in range(classes):
        (root / f"c{index}").mkdir(parents=True)
        Image.new("RGB", (8, 8), (index, 20, 30)).save(root / f"c{index}" / "x.png")
    return root


def test_the_same_data_is_recognised_however_it_is_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder(tmp_path / "d")
    os.symlink(tmp_path / "d", tmp_path / "link")
    (tmp_path / "e").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "e" / "x.png")
    (tmp_path / "e" / "labels.csv").write_text("x.png,0\n")
    for spelling in ("d/", "./d", str(tmp_path / "d"), "link", "e/../d"):
        assert same_data("d", spelling), spelling
    assert same_data("e", "e/labels.csv") and same_data("digits", "digits")
    assert not same_data("d", "e") and not same_data("digits", "./digits")


@pytest.mark.parametrize("trained_on, split", [(None, EVAL_FRACTION_OF_CALIB), ("./d/", 0.3)])
def test_the_same_folder_as_calib_and_eval_is_split(tmp_path, monkeypatch, trained_on, split):
    monkeypatch.chdir(tmp_path)
    folder(tmp_path / "d")
    source = SimpleNamespace(dataset=trained_on, val_split=0.3)
    calib, evaluation = plan_data(source, "d", str(tmp_path / "d"))
    assert (calib["part"], evaluation["part"], calib["split"], evaluation["split"]) == ("train", "held_out", split,
                                                                                          split)


def test_two_datasets_sharing_images_are_refused():
    pixels = np.arange(4 * 8 * 8 * 3, dtype=np.uint8).reshape(4, 8, 8, 3)
    evaluation = Dataset("e", pixels[2:], np.zeros(2, np.int64), ("a", "b"))
    refuse_shared_samples(pixels[:2], evaluation, "c", "e")  # disjoint: fine
    with pytest.raises(DataError, match=r"^--eval 'e' has 1 of its 2 images also in --calib 'c' .*split in half$"):
        refuse_shared_samples(pixels[:3], evaluation, "c", "e")


def test_more_or_fewer_classes_than_the_model_are_refused_by_every_reader(tmp_path):
    data = folder(tmp_path / "d", 3)
    assert len(load_dataset(str(data), PREP, 3).class_names) == 3
    for classes in (2, 4):
        with pytest.raises(DataError, match=f"^dataset '{data}' has 3 classes but the model outputs {classes}; "):
            load_dataset(str(data), PREP, classes)
    with pytest.raises(DataError, match="^dataset 'digits' has 10 classes but the model outputs 11; "):
        load_dataset("digits", PREP, 11)
