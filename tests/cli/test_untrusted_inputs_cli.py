"""Through the real entry point: a corrupt .tflite, a decompression bomb and label rows that leave the dataset
give one `mnd: error:` line and exit 2 from `mnd evaluate` and `mnd export`, never a traceback."""
import pytest
from PIL import Image

from tests.unit.test_untrusted_data import bomb_png, image_folder
from tests.unit.tiny_tflite import tiny_tflite

VWW = "mlperf_vww/vww_96_int8.tflite"


@pytest.fixture
def tiny_model(tmp_path):
    path = tmp_path / "tiny_uint8.tflite"
    path.write_bytes(tiny_tflite("uint8"))
    return path


def refused(result) -> str:
    """The error line of a run that must end with exit 2 and one error line (progress lines may precede it)."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[-1].startswith("mnd: error: ") and sum(line.startswith("mnd: error:") for line in lines) == 1
    return lines[-1]


def test_a_bomb_is_refused_by_evaluate_and_export(mnd, tmp_path, tiny_model):
    data = image_folder(tmp_path / "data", classes=4)  # the tiny model's 4 outputs
    bomb = bomb_png(data / "b" / "bomb.png")
    expected = f"mnd: error: '{bomb}' has more than 89,478,485 pixels"
    assert refused(mnd("evaluate", "--model", tiny_model, "--data", data)).startswith(expected)
    out = tmp_path / "out"
    assert refused(mnd("export", "--model", tiny_model, "--calib", data, "--target", "host", "--out", out)
                   ).startswith(expected)
    assert not out.exists()


def test_a_label_row_outside_the_dataset_is_refused(mnd, tmp_path, tiny_model):
    secret = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(secret)
    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (8, 8)).save(data / "ok.png")
    (data / "labels.csv").write_text(f"ok.png,0\n../secret.png,1\n{secret},2\n")
    line = refused(mnd("evaluate", "--model", tiny_model, "--data", data))
    assert line.startswith(f"mnd: error: '{data / 'labels.csv'}': row '../secret.png' leads outside")
    assert str(secret.stat().st_size) not in line.replace(str(tmp_path), "TMP")  # pytest-169 holds 69, the size


@pytest.mark.assets
@pytest.mark.parametrize("position, mask, command", [(330584, 0x01, "evaluate"), (330606, 0x80, "export")])
def test_the_reported_corrupt_models_are_refused(mnd, assets, tmp_path, position, mask, command):
    data = bytearray((assets / VWW).read_bytes())
    data[position] ^= mask
    model = tmp_path / "corrupt.tflite"
    model.write_bytes(bytes(data))
    flags = ["--data", assets / "vww_dev"] if command == "evaluate" else \
        ["--eval", assets / "vww_dev", "--target", "host", "--out", tmp_path / "out"]
    assert refused(mnd(command, "--model", model, *flags)).startswith(
        f"mnd: error: {model}: truncated or corrupt TFLite model")


@pytest.mark.assets
def test_a_corrupt_output_shape_is_refused_before_anything_is_sized_by_it(mnd, assets, tmp_path):
    """The output shape emptied (one byte of V flipped): one line through the CLI, never an IndexError."""
    data = bytearray((assets / VWW).read_bytes())
    data[223092] ^= 0x02
    model = tmp_path / "corrupt.tflite"
    model.write_bytes(bytes(data))
    line = refused(mnd("evaluate", "--model", model, "--data", assets / "vww_dev"))
    assert "gives output []" in line and len(line) < 400


@pytest.mark.assets
@pytest.mark.parametrize("position, mask", [(223092, 0xFF), (223093, 0x04)])
def test_a_runaway_shape_vector_is_refused_in_one_short_line(assets, position, mask):
    """A shape that runs on for hundreds of dimensions (classes up to 2**31 if it were believed)."""
    from mnd.base.errors import ModelError
    from mnd.base.tflite.read import read_tflite

    data = bytearray((assets / VWW).read_bytes())
    data[position] ^= mask
    with pytest.raises(ModelError) as caught:
        read_tflite(bytes(data), "corrupt.tflite")
    assert "has a negative dimension" in str(caught.value) and len(str(caught.value)) < 400
