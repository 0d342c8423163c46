"""Through the real CLI: a model file whose name holds a line break, Markdown/HTML, a terminal escape and a byte
that is not UTF-8 adds no heading, table row, link or HTML to report.md or report.html (and breaks neither the
reports' writing nor their figures); the reports show the name as it is, on one line."""
import json

from PIL import Image

from mnd.base.control_chars import visible
from tests.unit.test_report_names import html_structure, markdown_structure
from tests.unit.tiny_tflite import tiny_tflite

NAME = "evil\n# Heading | x | [l](e.com) <a href=x> www.e.com \udcff\x1b[31m"  # \udcff: the byte 0xff
SECTIONS = ["Summary", "Model, data and quantization", "Artifacts", "Validation", "Measurements on host",
            "ONNX Runtime on this CPU vs the exact QDQ arithmetic"]


def test_a_hostile_model_file_name_adds_nothing_to_the_reports(mnd, tmp_path):
    model = tmp_path / f"{NAME}.tflite"
    model.write_bytes(tiny_tflite("int8"))
    for index, name in enumerate(["a", "b", "[c](e.com)", "d|e"]):
        (tmp_path / "data" / name).mkdir(parents=True)
        Image.new("RGB", (8, 8), (40 * index, 20, 30)).save(tmp_path / "data" / name / "x.png")
    out = tmp_path / "out"
    mnd("export", "--model", model, "--eval", tmp_path / "data", "--target", "host", "--out", out, "--runs", "1",
        "--warmup", "0", check=0)
    manifest, report = json.loads((out / "manifest.json").read_text()), (out / "report.md").read_text()
    assert report.splitlines()[0] == ("# mnd export: evil\\\\n\\# Heading \\| x \\| \\[l](e.com) \\<a href=x> "
                                      "www\\.e.com \\\\udcff\\\\x1b\\[31m")
    agreeing = [m for m in manifest["measurements"] if m["agreement"]]
    tables = 5 + len(manifest["artifacts"]) + len(manifest["validations"]) + 2 * len(manifest["measurements"]) + \
        len(agreeing)  # a header row and a row per item: summary, artifacts, validations, host measurements, agreement
    structure = markdown_structure(report)
    assert (structure["heading_open"], structure["tr_open"]) == (1 + len(SECTIONS), tables)
    assert sum(structure[kind] for kind in ("link_open", "image", "html_inline", "html_block")) == 0
    page = html_structure(report)
    assert (page["h1"], page["h2"] + page["h3"], page["tr"], page["a"]) == (1, len(SECTIONS), tables, 0)
    html = (out / "report.html").read_text()
    assert f"<h1>mnd export: {visible(NAME).replace('<', '&lt;').replace('>', '&gt;')}</h1>" in html
    assert "<a " not in html and model.read_bytes() == tiny_tflite("int8")
