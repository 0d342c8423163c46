"""report.html: report.md's tables in HTML, every manifest string escaped, figures embedded as PNG data URIs (nothing
loaded from the network), "emulated" drawn on every emulated figure, and the confusion matrix the export records."""
import base64
import io
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnd.base.errors import ModelError
from mnd.pipeline.manifest import Artifact, Manifest, Measurement, Validation
from mnd.pipeline.report import plots
from mnd.pipeline.report.confusion import confusion_record
from mnd.pipeline.report.html import markdown_to_html, render_html
from mnd.pipeline.report.intervals import accuracy_interval
from mnd.pipeline.report.markdown import render
from mnd.pipeline.report.tables import RUNTIME_LABELS_BOARD
from mnd.pipeline.report.write import write_reports
from mnd.targets.android.benchmark_model import parse_benchmark_output

SAMPLES = Path(__file__).parent / "benchmark_model_samples"
HOSTILE = "<script>alert(1)</script>"
LAYERS = [{"index": 0, "op": "CONV_2D", "macs": 18432, "instructions": 228960},
          {"index": 1, "op": "DEPTHWISE_CONV_2D", "macs": 18432, "instructions": 242190},
          {"index": 2, "op": "FULLY_CONNECTED", "macs": 2560, "instructions": 20468}]


def benchmark_ops() -> dict:
    text = (SAMPLES / "tf_readme_op_profiling.txt").read_text()
    return parse_benchmark_output("\n".join(line for line in text.splitlines() if not line.startswith("# ")))


def measurements() -> tuple:
    host = [Measurement("host", runtime, artifact, accuracy, 40, {"p50": p50, "p90": p50 * 1.3}, 5, threads=1,
                        warmup=1)
            for runtime, artifact, accuracy, p50 in [("litert", "tflite_int8", 0.9, 0.05),
                                                     ("litert-ref", "tflite_int8", 0.875, 0.6),
                                                     ("onnxruntime", "onnx_int8", 0.85, 0.14)]]
    board = Measurement("rpi4", "mnd-c", "tflite_int8", 0.825, 40, {"p50": 13.1, "p90": 21.7}, 5, threads=2,
                        warmup=1, emulated=True)
    cortex = Measurement("cortex-m4", "mnd-c", "tflite_int8", 0.8, 40, None, 40, emulated=True,
                         instructions=491618, ram_bytes=12036, flash_bytes=254080, arena_bytes=6144,
                         arena_floor_bytes=6144, tflm_arena_bytes=36352, layers=LAYERS,
                         ram_parts={"model": 6144, "harness": 1034, "runtime": 0, "stack_peak": 4852},
                         flash_parts={"model": 250900, "harness": 2210, "runtime": 948})
    parsed = benchmark_ops()
    phone = Measurement("android", "benchmark_model-xnnpack", "tflite_int8", None, 0, None,
                        parsed["inference"]["count"], threads=4, warmup=1, benchmark=parsed)
    return (*host, board, cortex, phone)


def sample_manifest(name: str = "mobilenet_v1_025_32", evaluation: dict | None = None) -> Manifest:
    outputs = np.eye(3)[[0, 1, 2, 2, 1, 0, 2, 2]]
    return Manifest(
        model={"name": name, "classes": 3, "input_shape": [1, 32, 32, 1], "labels": ["cat", "dog", "bird"],
               "preprocessing": {"formula": "x / 255"}, "tflm_arena_bytes": 36352},
        quantization={"scheme": "int8", "calibration_samples": 20},
        artifacts=(Artifact("tflite_int8", "model_int8.tflite", 321376, "a" * 64),
                   Artifact("onnx_int8", "model_int8.onnx", 300184, "b" * 64)),
        validations=(Validation("tflm (from .cc) vs litert reference", True, 0.0, 0.0, "0 of 40 samples differ"),
                     Validation("int8 vs float accuracy drop (points)", False, 3.0, 2.0, "float 90%, int8 87%")),
        measurements=measurements(),
        data={"evaluation": {"source": "digits", "part": "held_out", "samples": 40}},
        target={"name": "host", "options": {"threads": [1], "clock_mhz": None}, "board": None},
        environment={"cpu_model": "test CPU", "machine": "x86_64", "isa_flags": ["avx2"]},
        warnings=("calibration saw only 20 samples",),
        evaluation=evaluation or confusion_record(outputs, [0, 1, 2, 1, 1, 0, 2, 0], ["cat", "dog", "bird"],
                                                  "litert-ref", "tflite_int8"))


class Page(HTMLParser):
    """Table rows (cell texts), every tag and its attributes, from an HTML page."""

    def __init__(self, text: str):
        super().__init__()
        self.rows, self.tags, self._row, self._cell = [], [], None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def images(self) -> list:
        return [attrs.get("src", "") for tag, attrs in self.tags if tag == "img"]


@pytest.fixture(scope="module")
def page() -> tuple:
    manifest = sample_manifest()
    text = render_html(manifest, "out/run")
    return manifest, text, Page(text)


def test_every_measurement_has_its_row(page):
    manifest, text, parsed = page
    for m in manifest.measurements:
        label = RUNTIME_LABELS_BOARD.get(m.runtime, m.runtime)
        if m.instructions is not None:  # an emulated core's section: a list, then its per-layer table
            assert f"<li>executed instructions per inference: {m.instructions:,} " in text
            assert f"<li>accuracy {accuracy_interval(m.accuracy, m.n)} (95% interval) on {m.n} samples" in text
            continue
        found = [row for row in parsed.rows if row[:2] == [m.artifact, label]
                 and accuracy_interval(m.accuracy, m.n) in row] \
            if m.benchmark is None else [row for row in parsed.rows if row[:3] == [m.artifact, "xnnpack", "4"]]
        assert len(found) == 1, (m.runtime, m.target)
    by_layer = [row for row in parsed.rows if row[:2] == ["1", "DEPTHWISE_CONV_2D"]]
    assert by_layer == [["1", "DEPTHWISE_CONV_2D", "18,432", "242,190", "13.14"]]


def test_the_html_says_what_report_md_says(page):
    manifest, text, parsed = page
    assert ["int8 vs float accuracy drop (points)", "FAIL", "3", "2", "float 90%, int8 87%"] in parsed.rows
    assert ["tflite_int8", "model_int8.tflite", "321,376", "a" * 12] in parsed.rows
    assert "warning: calibration saw only 20 samples" in text
    markdown_rows = [line for line in render(manifest, "out/run").splitlines()
                     if line.startswith("| ") and not line.startswith("|---")]
    assert len(parsed.rows) == len(markdown_rows)
    assert text.index('<section id="summary">\n<h2>Summary</h2>') < text.index("<h2>Figures</h2>") \
        < text.index("<h2>Artifacts</h2>")


def test_images_are_embedded_pngs_and_nothing_loads_from_the_network(page):
    _, text, parsed = page
    images = parsed.images()
    assert len(images) == 5  # accuracy and speed, per-layer cost, op profile, memory, confusion matrix
    for source in images:
        assert source.startswith("data:image/png;base64,")
        png = base64.b64decode(source.removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(png)) as image:
            image.verify()
    assert "http://" not in text and "https://" not in text
    links = [value for _, attrs in parsed.tags for key, value in attrs.items() if key in ("src", "href", "action")]
    assert all(value.startswith("data:image/png;base64,") for value in links)
    assert not any(tag in ("script", "link", "iframe", "object", "embed") for tag, _ in parsed.tags)


def test_hostile_strings_from_the_manifest_are_escaped():
    evaluation = confusion_record(np.eye(2), [0, 1], [HOSTILE, "$\\frac{$"], "litert-ref", '"><img src=x>')
    manifest = sample_manifest(HOSTILE, evaluation)
    hostile = replace(manifest.measurements[0], runtime="<img src=x onerror=alert(1)>$\\frac{$", artifact="a|b`c")
    manifest = replace(manifest, measurements=(hostile, *manifest.measurements[1:]),
                       warnings=('"><script>alert(2)</script>', "$x^{$"))
    text = render_html(manifest, "out/<b>run")
    parsed = Page(text)
    assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text and "<b>run" not in text
    assert not any(tag == "script" or any(key.startswith("on") for key in attrs) for tag, attrs in parsed.tags)
    assert all(source.startswith("data:image/png;base64,") for source in parsed.images())
    title = next(line for line in text.splitlines() if line.startswith("<title>"))
    assert title == "<title>mnd export: &lt;script&gt;alert(1)&lt;/script&gt;</title>"


def test_emulated_figures_say_so_on_the_plot():
    host, _, _, board, cortex, _ = measurements()
    layer = plots.figure_texts(plots.layer_cost_figure(LAYERS, "cortex-m4 per layer", emulated=True))
    memory = plots.figure_texts(plots.memory_figure([("m4", cortex.ram_parts, cortex.flash_parts)], "memory", True))
    speed = plots.figure_texts(plots.accuracy_speed_figure([plots.bar_of(host), plots.bar_of(board)], "speed"))
    profile = plots.figure_texts(plots.op_profile_figure(benchmark_ops()["ops"], "ops", emulated=True))
    for texts in (layer, memory, speed, profile):
        assert any("emulated" in text for text in texts), texts
    assert "mult-adds" in layer and any(text.startswith("instructions (emulated)") for text in layer)
    assert any("says nothing about the hardware" in text for text in speed)
    host_only = plots.figure_texts(plots.accuracy_speed_figure([plots.bar_of(host)], "host"))
    assert not any("emulated" in text for text in host_only)


def test_confusion_record_counts_true_rows_and_predicted_columns():
    outputs = np.eye(3)[[0, 1, 2, 2, 1]]
    record = confusion_record(outputs.reshape(5, 1, 3), [0, 1, 1, 2, 0], ["a", "b", "c"], "litert-ref", "tflite_int8")
    assert record["matrix"] == [[1, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert record["row_totals"] == [2, 2, 1] and record["column_totals"] == [1, 2, 2]
    assert (record["classes"], record["classes_shown"], record["samples"]) == (3, 3, 5)
    assert confusion_record(outputs, [0, 1, 1, 2, 0], ["only one name"], "r", "a")["labels"] == ["0", "1", "2"]


def test_confusion_record_keeps_the_20_most_frequent_of_many_classes():
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.repeat(np.arange(60), np.arange(60) % 7 + 1), np.full(30, 59)])
    outputs = rng.random((len(labels), 60))
    record = confusion_record(outputs, labels, [f"c{i}" for i in range(60)], "litert", "tflite_float")
    counts = np.bincount(labels, minlength=60)
    assert record["classes_shown"] == 20 == len(record["labels"]) == len(record["matrix"])
    assert record["classes"] == 60 and "c59" in record["labels"]
    shown = [int(name[1:]) for name in record["labels"]]
    assert min(counts[shown]) >= max(np.delete(counts, shown))
    predicted = outputs.argmax(axis=1)
    assert record["row_totals"] == [int(counts[c]) for c in shown]
    assert record["column_totals"] == [int((predicted == c).sum()) for c in shown]
    assert record["matrix"][0][1] == int(((labels == shown[0]) & (predicted == shown[1])).sum())


def write_manifest(run: Path, doc: dict) -> None:
    run.mkdir(exist_ok=True)
    (run / "manifest.json").write_text(json.dumps(doc))


def test_manifests_with_and_without_an_evaluation_read_back(tmp_path):
    doc = replace(sample_manifest(), artifacts=()).to_dict()
    write_manifest(tmp_path / "new", doc)
    assert Manifest.read(tmp_path / "new").evaluation == doc["evaluation"]
    write_manifest(tmp_path / "old", {key: value for key, value in doc.items() if key != "evaluation"})
    assert Manifest.read(tmp_path / "old").evaluation is None
    ragged = {**doc, "evaluation": {**doc["evaluation"], "matrix": [[1, 0], [0, 1], [0, 0, 1]]}}
    write_manifest(tmp_path / "ragged", ragged)
    with pytest.raises(ModelError, match="evaluation: not a square matrix"):
        Manifest.read(tmp_path / "ragged")


def test_write_reports_writes_both_and_an_old_manifest_renders_without_a_confusion_matrix(tmp_path):
    html = write_reports(tmp_path, replace(sample_manifest(), evaluation=None), "out/run")
    assert html == tmp_path / "report.html" and (tmp_path / "report.md").read_text().startswith("# mnd export")
    text = html.read_text()
    assert len(Page(text).images()) == 4 and "Confusion matrix" not in text


def test_markdown_tables_keep_pipes_inside_cells():
    text = markdown_to_html("| check | detail |\n|---|---|\n| a \\| b | max |diff| over 5 |\n")
    assert Page(text).rows == [["check", "detail"], ["a | b", "max |diff| over 5"]]
