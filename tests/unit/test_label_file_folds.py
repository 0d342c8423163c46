"""The transfer benchmark's two folds: fixed stratified halves of a label-file dataset, each readable by mnd."""
import numpy as np

from mnd.pipeline.data.label_files import read_label_file
from mnd.pipeline.data.preprocess import Preprocessing
from tests.bench.label_file_folds import read_rows, stratified_halves, two_folds


def test_halves_split_each_class_evenly_and_do_not_depend_on_row_order():
    rows = [(f"{i:03d}.bin", "2", "1" if i % 3 == 0 else "0") for i in range(11)]  # 4 of class 1, 7 of class 0
    first, second = stratified_halves(rows)
    assert sorted(first + second) == sorted(rows) and not set(first) & set(second)
    assert [sum(row[2] == "1" for row in half) for half in (first, second)] == [2, 2]
    assert [sum(row[2] == "0" for row in half) for half in (first, second)] == [4, 3]
    assert stratified_halves(rows[::-1]) == (first, second)


def test_vww_dev_folds_are_two_readable_datasets_of_100(assets, tmp_path):
    half_a, half_b = two_folds(assets / "vww_dev", tmp_path)
    prep = Preprocessing("unit", 96, 3)
    a, b = read_label_file(half_a / "y_labels.csv", prep, None), read_label_file(half_b / "y_labels.csv", prep, None)
    assert (len(a), len(b)) == (100, 100)
    assert np.bincount(a.labels).tolist() == np.bincount(b.labels).tolist() == [44, 56]
    names = [{row[0] for row in read_rows(half / "y_labels.csv")} for half in (half_a, half_b)]
    assert not names[0] & names[1] and len(names[0] | names[1]) == 200
    original = np.fromfile(assets / "vww_dev" / "bin" / sorted(names[0])[0], dtype=np.uint8)
    assert np.array_equal(np.fromfile(half_a / "bin" / sorted(names[0])[0], dtype=np.uint8), original)
