"""Names that reach the reports (a model or file name, a data path, a warning, a layer, a compared run) cannot add
headings, table rows, links, images or HTML to report.md or report.html: parsed, a report with hostile names has
exactly the structure of one without them, and shows each name as it is."""
import html
from dataclasses import replace

import pytest
from markdown_it import MarkdownIt

from mnd.pipeline.manifest import Artifact
from mnd.pipeline.report.compare import comparison_markdown
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.html import inline, markdown_to_html, page
from mnd.pipeline.report.markdown import render
from mnd.pipeline.report.labels import short
from tests.unit.test_html_report import Page, sample_manifest

HOSTILE = ("evil\n# Heading\n| a | b |\n[link](http://e.com) ![i](x.png) <a href='http://e.com'>a</a> www.e.com "
           "https://e.com x@e.com &lt; **b** _c_ ~~d~~ `e` $x^2$ \\| f\r\u2028\x1b[31m\udcff\u202e")
SHOWN = HOSTILE.replace("\n", "\\n").replace("\r", "\\r").replace("\u2028", "\\u2028").replace("\x1b", "\\x1b") \
    .replace("\udcff", "\\udcff").replace("\u202e", "\\u202e")
STRUCTURE = ("heading_open", "tr_open", "link_open", "image", "html_inline", "html_block", "hr", "blockquote_open",
             "bullet_list_open", "em_open", "strong_open", "s_open")  # code spans: a name with '`' is shown as text
HTML_TAGS = ("h1", "h2", "h3", "tr", "a", "img", "li", "strong", "script")


def markdown_structure(markdown: str) -> dict:
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)
    everything = tokens + [child for token in tokens for child in token.children or []]
    return {kind: sum(token.type == kind for token in everything) for kind in STRUCTURE}


def html_structure(markdown: str) -> dict:
    """report.html's body is markdown_to_html(report.md) (its figures are drawn with literal text: plots.py)."""
    tags = [tag for tag, _ in Page(markdown_to_html(markdown)).tags]
    return {tag: tags.count(tag) for tag in HTML_TAGS}


def hostile_manifest():
    manifest = sample_manifest(name=HOSTILE)
    return replace(manifest, artifacts=(Artifact("tflite_int8", f"{HOSTILE}.tflite", 1, "a" * 64),
                                        Artifact("onnx_int8", f"{HOSTILE}.onnx", 1, "b" * 64)),
                   data={"evaluation": {"source": HOSTILE, "part": "held_out", "samples": 40},
                         "calibration": {"source": HOSTILE, "part": "train", "samples": 20}},
                   quantization={"scheme": "int8", "calibration_samples": 20,
                                 "layers": [{"name": HOSTILE, "op": HOSTILE, "sqnr_db": 30.0}]},
                   environment={"cpu_model": HOSTILE, "machine": "x86_64", "isa_flags": []},
                   warnings=(HOSTILE,))


def plain_manifest():
    manifest = hostile_manifest()
    return replace(manifest, model={**manifest.model, "name": "m"},
                   artifacts=tuple(replace(a, path=f"m.{a.kind}") for a in manifest.artifacts),
                   data={part: {**record, "source": "d"} for part, record in manifest.data.items()},
                   quantization={**manifest.quantization, "layers": [{"name": "l", "op": "CONV_2D", "sqnr_db": 30.0}]},
                   environment={**manifest.environment, "cpu_model": "cpu"}, warnings=("w",))


def test_hostile_names_add_no_markdown_or_html_structure():
    hostile, plain = hostile_manifest(), plain_manifest()
    assert markdown_structure(render(hostile)) == markdown_structure(render(plain))
    assert html_structure(render(hostile)) == html_structure(render(plain))
    runs = [[("run", "out/run", manifest)] * 2 for manifest in (hostile, plain)]
    runs[0] = [(HOSTILE, HOSTILE, hostile), ("run", "out/run", hostile)]
    compared = [comparison_markdown(side, "o") for side in runs]
    assert markdown_structure(compared[0]) == markdown_structure(compared[1])
    assert html_structure(compared[0]) == html_structure(compared[1])


def test_each_name_shows_as_it_is_on_one_line():
    page = Page(markdown_to_html(render(hostile_manifest())))
    heading = MarkdownIt("commonmark").parseInline(text(HOSTILE))[0].children
    assert "".join(token.content for token in heading) == SHOWN  # CommonMark reads the escapes back
    assert inline(text(HOSTILE)) == inline(code(HOSTILE)) == html.escape(SHOWN)
    assert any(row[:2] == ["tflite_int8", f"{SHOWN}.tflite"] for row in page.rows)
    assert inline(code("a_b c")) == "<code>a_b c</code>" and text("mobilenet_v1_025_32.tflite") == \
        "mobilenet_v1_025_32.tflite"  # ordinary names stay readable in report.md


@pytest.mark.parametrize("name", ["x]", "a\\", "\\|", "**", "<", "&amp;", "#", "`", "$x$"])
def test_edge_characters_round_trip(name):
    assert inline(text(name)) == html.escape(name)


def test_dollar_signs_are_escaped_so_no_renderer_reads_math():
    assert text("$x^2$ and $y$") == "\\$x^2\\$ and \\$y\\$"


def test_figures_and_the_page_title_draw_a_name_on_one_line_in_utf8():
    assert short(HOSTILE, 200).encode("utf-8") and "\n" not in short(HOSTILE, 200)
    assert short("a\x1b\udcff") == "a\\x1b\\udcff"
    assert "<title>a\\n\\udcff</title>" in page("a\n\udcff", "")
