"""The reports lead with the answer: report.md's Summary (accuracy with its Wilson 95% interval per runtime, speed,
fit, validation verdict, next command) comes first and the per-layer quantization table last; every accuracy shown
(reports, comparisons, quantize-report, the terminal) carries its interval."""
from dataclasses import replace

import pytest

from mnd.pipeline.export.run import with_board_fit
from mnd.pipeline.manifest import Validation
from mnd.pipeline.quality.render import render_markdown
from mnd.pipeline.report.compare import comparison_markdown
from mnd.pipeline.report.html import render_html
from mnd.pipeline.report.intervals import accuracy_interval
from mnd.pipeline.report.markdown import render
from mnd.pipeline.report.summary import terminal_lines
from mnd.targets.cortex_m.boards import BOARDS
from tests.unit.report_samples import N, host_manifest
from tests.unit.test_html_report import sample_manifest


def summary_of(markdown: str) -> str:
    start = markdown.index("## Summary")
    return markdown[start:markdown.index("\n## ", start)]


@pytest.mark.parametrize("accuracy, n, shown", [
    (0.9, 40, "90.0% [76.9, 96.0]"),     # Wilson 95%: 36 of 40
    (0.5, 10, "50.0% [23.7, 76.3]"),     # 5 of 10
    (1.0, 359, "100.0% [98.9, 100.0]"),  # 359 of 359: the interval stays below 100%
    (0.9999, 10000, "99.99% [99.94, 100.00]"),  # more samples, one more decimal (one sample shows)
    (None, 40, "—"), (0.5, 0, "—")])
def test_an_accuracy_is_shown_with_its_wilson_interval(accuracy, n, shown):
    assert accuracy_interval(accuracy, n) == shown


def test_the_summary_gives_each_runtimes_accuracy_interval_and_latency():
    manifest = host_manifest()
    summary = summary_of(render(manifest, "out/run"))
    assert summary.startswith("## Summary\n\n- model: `mobilenet_v1_025_32`, input 1×32×32×1, 3 classes")
    assert f"- data: {N} evaluation samples from `digits` (held_out)" in summary
    for m in manifest.measurements:
        row = f"| {m.runtime} | {m.artifact} | {accuracy_interval(m.accuracy, N)} | {N} | " \
              f"{m.latency_ms['p50']:.3f} / {m.latency_ms['p90']:.3f} ms, 1 thread |"
        assert row in summary
    assert "- validation: all 2 gated checks pass" in summary
    assert "- warning: calibration saw only 20 samples" in summary
    assert "- next: Build `out/run/tflm/`" in summary and "fit:" not in summary


def test_the_summary_says_a_failed_gated_check_and_the_fit_on_the_chosen_part():
    manifest = with_board_fit(sample_manifest(), BOARDS["nano33-ble"])
    summary = summary_of(render(manifest))
    assert "- validation: **FAILED**: int8 vs float accuracy drop (points) (kept with --allow-drift)" in summary
    assert "- target: `host`; part nano33-ble (nRF52840, cortex-m4)" in summary
    assert "- fit: fits nano33-ble (nRF52840): flash 254,080 of 1,048,576 B (794,496 B left), RAM 12,036 of " \
           "262,144 B (250,108 B left)" in summary
    assert "| cortex-m4 (emulated) | mnd-c | tflite_int8 | 80.0% [65.2, 89.5] | 40 | 491,618 instructions | " \
           "12,036 / 254,080 |" in summary
    assert "| android | benchmark_model-xnnpack | tflite_int8 | — | — | " \
           "79.732 ms avg (benchmark_model, 4 threads)" in summary
    informational = replace(manifest, validations=(Validation("a", True, 0, 0), Validation("b", False, 1, 0,
                                                                                           gated=False)))
    assert "- validation: all 1 gated checks pass (1 informational)" in render(informational)


def test_report_md_leads_with_the_summary_and_ends_with_the_layer_table():
    markdown = render(host_manifest())
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == ["## Summary", "## Model, data and quantization", "## Artifacts", "## Validation",
                        "## Measurements on `host`", "## Quantization quality by layer"]
    assert markdown.index("| 29 | model/block_29/") > markdown.index("| tflm_c_source | TFLite-Micro (host)")


def test_report_html_puts_the_figures_between_the_summary_and_the_tables():
    html = render_html(host_manifest())
    order = [html.index(marker) for marker in ('<section id="summary">\n<h2>Summary</h2>', "</section>",
                                               "<h2>Figures</h2>", "<h2>Artifacts</h2>", "<h2>Measurements on",
                                               "<h2>Quantization quality by layer</h2>")]
    assert order == sorted(order)
    summary = html[order[0]:order[1]]
    assert all(accuracy_interval(m.accuracy, m.n) in summary for m in host_manifest().measurements)


def test_terminal_lines_give_accuracy_intervals_speed_fit_and_verdict():
    manifest = with_board_fit(sample_manifest(), BOARDS["nano33-ble"])
    lines = terminal_lines(manifest)
    assert lines[0] == "mobilenet_v1_025_32 on host; part nano33-ble (nRF52840, cortex-m4); 40 evaluation samples " \
                       "from digits (held_out)"
    assert "  host litert on tflite_int8: accuracy 90.0% [76.9, 96.0] (n=40); 0.050 / 0.065 ms, 1 thread" in lines
    assert "  cortex-m4 (emulated) mnd-c on tflite_int8: accuracy 80.0% [65.2, 89.5] (n=40); 491,618 instructions; " \
           "RAM / flash 12,036 / 254,080 B" in lines
    assert any(line.startswith("fit: fits nano33-ble (nRF52840): flash 254,080") for line in lines)
    assert lines[-1] == "validation: FAILED: int8 vs float accuracy drop (points) (kept with --allow-drift)"
    hostile = replace(manifest, model={**manifest.model, "name": "a\nb\x1b[31m"})
    assert terminal_lines(hostile)[0].startswith("a\\nb\\x1b[31m on host")


def test_comparison_rows_carry_the_interval():
    runs = [("a", "out/a", sample_manifest()), ("b", "out/b", host_manifest())]
    markdown = comparison_markdown(runs, "out/cmp")
    assert "| accuracy [95% interval] | n |" in markdown
    assert "| a | mobilenet_v1_025_32 | host | tflite_int8 | litert | 1 | 90.0% [76.9, 96.0] | 40 | 0.050 ms |" \
        in markdown
    assert f"| b | mobilenet_v1_025_32 | host | onnx_int8 | onnxruntime | 1 | 98.1% [96.0, 99.1] | {N} |" in markdown


def test_quantize_report_shows_intervals_and_the_samples_behind_the_difference():
    doc = {"model": "m", "quality_samples": 20,
           "data": {"calibration": {"source": "digits", "part": "train", "samples": 100},
                    "evaluation": {"source": "digits", "part": "held_out", "samples": 200}},
           "float": {"correct": 170, "n": 200, "accuracy": 0.85},
           "schemes": [{"label": "per-tensor", "calibration": "minmax", "weights": "per-tensor", "equalize": False,
                        "bias_correct": False, "correct": 172, "n": 200, "accuracy": 0.86, "notes": [],
                        "output_sqnr_db": 21.5, "layers": [], "int8_only_correct": 6, "float_only_correct": 4}]}
    markdown = render_markdown(doc)
    assert "- float top-1: 85.0% [79.4, 89.3] (95% interval, 170 of 200)" in markdown
    assert "| per-tensor | minmax | 86.0% [80.5, 90.1] | +1.00 (only int8 right: 6, only float right: 4) | 21.5 dB |" \
        in markdown
    assert "Wilson 95% intervals" in markdown
    del doc["schemes"][0]["int8_only_correct"], doc["schemes"][0]["float_only_correct"]  # an older report's doc
    assert "| 86.0% [80.5, 90.1] | +1.00 | 21.5 dB |" in render_markdown(doc)
