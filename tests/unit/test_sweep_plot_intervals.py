"""A sweep's accuracies come with their uncertainty (issue 24): each row records its evaluation samples, the tables
(md and html) show "96.1% [93.6, 97.7]", the Figure 4/5 plots draw a Wilson error bar per point, and a row from
before n was recorded says "n unknown" instead of inventing one."""
from dataclasses import replace

import pytest

from mnd.pipeline.evaluate import wilson_interval
from mnd.pipeline.manifest import Measurement
from mnd.pipeline.sweep import grid, plots
from mnd.pipeline.sweep.record import row_problems
from mnd.pipeline.sweep.report import render_html, render_markdown
from mnd.pipeline.sweep.rows import measured_row
from tests.unit.test_html_report import Page, sample_manifest

N = 359  # the digits held-out part
CORRECT = {32: (345, 343), 48: (349, 348)}  # float, int8


def measured_rows() -> list:
    rows = []
    for variant in grid.variants((0.25,), (32, 48), classes=10, channels=1):
        float_correct, int8_correct = CORRECT[variant.spec.side]
        runs = [Measurement("host", "litert", artifact, correct / N, N, {"p50": p50, "p90": p50 * 1.2}, 5, threads=1)
                for artifact, correct, p50 in (("tflite_float", float_correct, 0.09), ("tflite_int8", int8_correct,
                                                                                         0.04))]
        manifest = replace(sample_manifest(), measurements=tuple(runs))
        rows.append(measured_row(variant, f"variants/{variant.name}", manifest, [], with_accuracy=True))
    return rows


def sweep_doc(rows: list) -> dict:
    settings = {"target": "host", "mode": "trained", "dataset": "digits", "epochs": 2, "seed": 0, "flash_kb": None,
                "ram_kb": None, "part": None, "warmup": 1, "runs": 5}
    return {"schema": "mnd.sweep/1", "settings": settings, "grid": {"alpha": [0.25], "resolution": [32, 48]},
            "rows": rows}


def test_rows_record_their_evaluation_samples_and_older_rows_without_them_are_still_read():
    rows = measured_rows()
    assert [row["eval_samples"] for row in rows] == [N, N]
    assert rows[0]["float_acc"] == 345 / N and rows[0]["int8_acc"] == 343 / N
    assert all(not row_problems(row) for row in rows)
    older = {key: value for key, value in rows[0].items() if key != "eval_samples"}
    assert not row_problems(older)


def test_tables_show_each_accuracy_with_its_wilson_interval_or_say_n_unknown():
    rows = measured_rows()
    rows[1] = {key: value for key, value in rows[1].items() if key != "eval_samples"}  # a row from before n
    markdown = render_markdown(sweep_doc(rows), "out/sweep")
    assert "| eval n | float acc [95% CI] | int8 acc [95% CI] |" in markdown
    assert "| 359 | 96.1% [93.6, 97.7] | 95.5% [92.9, 97.2] |" in markdown
    assert "| n unknown | 97.2% (n unknown) | 96.9% (n unknown) |" in markdown
    table = Page(render_html(sweep_doc(rows), "out/sweep")).rows
    assert ["359", "96.1% [93.6, 97.7]", "95.5% [92.9, 97.2]"] == table[1][9:12]
    assert ["n unknown", "97.2% (n unknown)", "96.9% (n unknown)"] == table[2][9:12]


@pytest.mark.parametrize("x", ["mult_adds", "params"])
def test_figure_4_and_5_points_carry_wilson_error_bars(x):
    rows = measured_rows()
    figure = plots.accuracy_figure(rows, x, "Accuracy (as paper Figure 4)")
    figure.canvas.draw()
    axes = figure.axes[0]
    bars = [container.lines[2][0].get_segments()[0] for container in axes.containers]
    expected = [wilson_interval(correct, N) for side in (32, 48) for correct in CORRECT[side]]
    assert [point[1] for bar in bars for point in bar] == pytest.approx([100 * end for pair in expected
                                                                         for end in pair])
    assert "95% Wilson interval" in axes.get_ylabel()
    assert not any("n unknown" in text.get_text() for text in axes.texts)


def test_a_row_without_n_gets_no_error_bar_and_the_plot_says_why():
    rows = measured_rows()
    rows[0] = {**rows[0], "eval_samples": None}
    figure = plots.accuracy_figure(rows, "mult_adds", "Accuracy")
    figure.canvas.draw()
    axes = figure.axes[0]
    lengths = [abs(bar[1][1] - bar[0][1]) for bar in (c.lines[2][0].get_segments()[0] for c in axes.containers)]
    assert lengths[:2] == [0, 0] and all(length > 3 for length in lengths[2:])
    assert any("n unknown" in text.get_text() for text in axes.texts)
