"""Through the real CLI: evaluation data that does not fit the model (more classes than its outputs) or that is
not disjoint from the calibration data (the same images in --calib and --eval) is refused with one line, exit 2,
before anything is written."""
import shutil

from PIL import Image

from tests.cli.test_untrusted_inputs_cli import refused
from tests.unit.test_untrusted_data import image_folder
from tests.unit.tiny_tflite import tiny_tflite


def test_evaluate_refuses_a_folder_with_more_classes_than_the_model(mnd, tmp_path):
    """It used to score labels 0..4 against 4 outputs; export already refused such data."""
    model = tmp_path / "tiny.tflite"
    model.write_bytes(tiny_tflite("int8"))  # 4 outputs
    data = image_folder(tmp_path / "data", classes=5)
    assert refused(mnd("evaluate", "--model", model, "--data", data)) == (
        f"mnd: error: dataset '{data}' has 5 classes but the model outputs 4; give data with the model's classes")


def test_export_refuses_evaluation_images_that_are_also_calibration_images(mnd, digits_run, tmp_path):
    data = tmp_path / "data"
    for digit in range(10):
        (data / str(digit)).mkdir(parents=True)
        for shade in (0, 1):
            Image.new("L", (8, 8), 20 * digit + shade).save(data / str(digit) / f"{shade}.png")
    copy = shutil.copytree(data, tmp_path / "copy")
    out = tmp_path / "out"
    line = refused(mnd("export", "--model", digits_run, "--calib", data, "--eval", copy, "--target", "host",
                       "--out", out))
    assert line.startswith(f"mnd: error: --eval '{copy}' has 20 of its 20 images also in --calib '{data}' ")
    assert not out.exists() and sorted(path.name for path in tmp_path.iterdir()) == ["copy", "data"]
