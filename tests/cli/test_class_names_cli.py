"""Through the real CLI: a class folder whose name holds a line break is refused with one line (exit 2) before
anything is written, instead of splitting into two labels and shifting every class after it."""
import shutil

from PIL import Image

from tests.cli.test_untrusted_inputs_cli import refused


def test_a_class_folder_with_a_line_break_is_refused_by_train(mnd, tmp_path):
    data = tmp_path / "data"
    for name in ("cat", "dog\n# bird"):
        (data / name).mkdir(parents=True)
        Image.new("RGB", (8, 8), (10, 20, 30)).save(data / name / "x.png")
    before = sorted(str(path) for path in data.rglob("*"))
    out = tmp_path / "run"
    line = refused(mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", data, "--epochs", "1", "--out", out))
    assert line == (f"mnd: error: dataset '{data}': class name 'dog\\n# bird' holds a line break or control "
                    "character, which would split it in two in labels.txt and shift every class after it; rename "
                    "that class folder")
    assert not out.exists() and sorted(str(path) for path in data.rglob("*")) == before
    assert [path.name for path in tmp_path.iterdir()] == ["data"]  # no staging folder left beside --out


def test_a_name_with_a_line_break_or_escape_stays_on_its_log_line(mnd, assets, tmp_path):
    """Log lines quote names as they are, escaped: a file named 'vww\\n\\x1b[31m.tflite' cannot split one or colour
    the terminal."""
    model = tmp_path / "vww\n\x1b[31m.tflite"
    shutil.copy(assets / "mlperf_vww/vww_96_int8.tflite", model)
    result = mnd("analyze", model, check=0)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("mnd: next:")]
    assert "vww\\n\\x1b[31m.tflite" in line and "\x1b" not in result.stderr
