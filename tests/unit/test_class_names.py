"""Class names with a line break or another control character are refused wherever names are read or written
(class folders, labels.txt, --labels files), with one line; every other name goes through labels.txt and the C
header unchanged."""
import re

import pytest

from mnd.base.errors import DataError, ModelError
from mnd.pipeline.data.class_names import check_class_names, labels_text
from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.formats.c_array import c_string
from mnd.pipeline.sources.resolve import _read_labels, _run_labels

CONTROLS = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]
NOT_UTF8 = "d\udcffg"  # how Python reads a folder name with the byte 0xff
ODD_BUT_FINE = ['say "hi"', "back\\slash", "a|b", "# not a heading", "[x](http://e.com)", "<b>&amp;", "café 🐱",
                " padded ", "?"]


@pytest.mark.parametrize("control", CONTROLS)
def test_a_control_character_is_refused_in_one_line(control):
    with pytest.raises(DataError) as caught:
        check_class_names(["cat", f"do{control}g"], "dataset 'd'", "rename it")
    message = str(caught.value)
    assert message.startswith(f"dataset 'd': class name 'do{repr(control)[1:-1]}g' holds a line break")
    assert message.endswith("; rename it") and len(message.splitlines()) == 1


def test_a_name_that_is_not_utf8_is_refused_in_one_line():
    with pytest.raises(DataError, match=r"^w: class name 'd\\udcffg' is not UTF-8 .*; f$"):
        check_class_names(["cat", NOT_UTF8], "w", "f")


def test_other_names_pass_labels_txt_and_the_c_header_unchanged(tmp_path):
    assert check_class_names(ODD_BUT_FINE, "w", "f") == tuple(ODD_BUT_FINE)
    (tmp_path / "labels.txt").write_text(labels_text(ODD_BUT_FINE))  # as `mnd train` writes it
    assert _run_labels(tmp_path, len(ODD_BUT_FINE)) == tuple(ODD_BUT_FINE)  # as `mnd export` reads it back
    for name in ODD_BUT_FINE:
        assert _c_literal_value(c_string(name)) == name


def _c_literal_value(literal: str) -> str:
    """A C string literal as c_string writes it (\\ooo octal and \\x single-character escapes) read back."""
    body = literal[1:-1]
    assert not re.search(r'(?<!\\)"', body.replace("\\\\", ""))  # no unescaped quote ends it early
    data = re.sub(rb"\\([0-7]{3}|.)", lambda m: bytes([int(m[1], 8)]) if len(m[1]) == 3 else m[1],
                  body.encode("ascii"))
    return data.decode("utf-8")


def test_a_class_folder_with_a_line_break_is_refused_before_any_image_is_read(tmp_path):
    for name in ("cat", "dog\nbird"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.png").write_bytes(b"not an image: reading it would be a different error")
    with pytest.raises(DataError, match=r"class name 'dog\\nbird' holds a line break"):
        load_dataset(str(tmp_path), Preprocessing(side=8, channels=3))


def test_a_tampered_labels_txt_is_refused(tmp_path):
    (tmp_path / "labels.txt").write_text("cat\nd\x1bog\n")
    with pytest.raises(ModelError, match=r"labels.txt': class name 'd\\x1bog' holds .*; train it again"):
        _run_labels(tmp_path, 2)


def test_a_labels_file_is_read_line_by_line_and_checked(tmp_path):
    path = tmp_path / "names.txt"
    path.write_bytes(b"cat\r\n dog \r\n\r\n")
    assert _read_labels(path, 2) == ("cat", "dog")
    path.write_bytes("cat\ndo\u2028g\n".encode())
    with pytest.raises(ModelError, match=r"class name 'do\\u2028g' holds a line break"):
        _read_labels(path, 2)
    path.write_bytes(b"cat\n\xff\xfe\n")
    with pytest.raises(ModelError, match="cannot be read .*give a UTF-8 text file"):
        _read_labels(path, 2)


@pytest.mark.parametrize("bidi", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                  "\u2069"])
def test_a_bidirectional_control_is_refused_and_shown_escaped(bidi):
    """'cat\\u202egod' shows as 'catdog' wherever it is printed: a class name must not read as another."""
    with pytest.raises(DataError) as caught:
        check_class_names(["dog", f"cat{bidi}god"], "dataset 'd'", "rename it")
    message = str(caught.value)
    assert message.startswith(f"dataset 'd': class name 'cat\\u{ord(bidi):04x}god' holds a bidirectional control")
    assert bidi not in message and message.endswith("; rename it") and len(message.splitlines()) == 1


def test_reports_show_a_bidirectional_control_as_its_escape():
    from mnd.pipeline.report.escape import code, text

    assert text("model\u202eevil") == "model\\\\u202eevil" and code("m\u2066x") == "`m\\u2066x`"
