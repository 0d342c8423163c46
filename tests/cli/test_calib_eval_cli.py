"""Through the real CLI: evaluation data that does not fit the model (more classes than its outputs) or that is
not disjoint from the calibration data (the same images in --calib and --eval) is refused with one line, exit 2,
before anything is written."""
import shutil

import pytest
from PIL import Image

from tests.cli.test_untrusted_inputs_cli import refused


def gray_folder(root, classes: int):
    for index in range(classes):
        (root / f"{index}").mkdir(parents=True)
        for shade in (0, 1):
            Image.new("L", (8, 8), 20 * index + shade).save(root / f"{index}" / f"{shade}.png")
    return root


@pytest.mark.parametrize("case", ["eleven classes", "a copy of --calib"])
def test_evaluation_data_that_does_not_fit_is_refused(mnd, digits_run, tmp_path, case):
    data = gray_folder(tmp_path / "data", 10)
    if case == "eleven classes":
        evaluation = gray_folder(tmp_path / "eleven", 11)
        expected = f"mnd: error: dataset '{evaluation}' has 11 classes but the model outputs 10; "
    else:
        evaluation = shutil.copytree(data, tmp_path / "copy")
        expected = f"mnd: error: --eval '{evaluation}' has 20 of its 20 images also in --calib '{data}' "
    out = tmp_path / "out"
    line = refused(mnd("export", "--model", digits_run, "--calib", data, "--eval", evaluation, "--target", "host",
                       "--out", out))
    assert line.startswith(expected) and not out.exists()
