"""The report's and the sweep's figures, checked on their matplotlib objects (issue 24): no SI prefix on an axis
whose unit has one, log scale exactly beyond a 10x span, each latency label at its own marker, and accuracy drawn
as points with their intervals on a zoomed axis, int8 - float as a difference with its interval."""
from dataclasses import replace

import pytest

from mnd.pipeline.evaluate import wilson_interval
from mnd.pipeline.manifest import Measurement
from mnd.pipeline.report import plots
from mnd.pipeline.report.axes import log_scale_fits, plain_number
from mnd.pipeline.report.intervals import difference_interval
from mnd.pipeline.sweep import plots as sweep_plots
from tests.unit.test_html_report import LAYERS, benchmark_ops, measurements

N = 40


def host(runtime: str, artifact: str, correct: int, p50: float) -> Measurement:
    return Measurement("host", runtime, artifact, correct / N, N, {"p50": p50, "p90": p50 * 1.3}, 5, threads=1,
                       warmup=1)


def sweep_row(side: int, mult_adds: int, p50_ms: float) -> dict:
    return {"alpha": 0.25, "resolution": side, "mult_adds": mult_adds, "params": 14_000, "latency_ms_p50": p50_ms,
            "instructions": None, "emulated": False, "int8_bytes": 54_000, "ram_bytes": None, "flash_bytes": None,
            "float_acc": None, "int8_acc": None}


def drawn(figure) -> list:
    figure.canvas.draw()
    return figure.axes


def tick_texts(axis) -> list:
    lo, hi = sorted(axis.get_view_interval())
    return [label.get_text() for tick, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels())
            if lo <= tick <= hi and label.get_text()]


def panel(figure, title_start: str):
    """The axes whose title starts so (not drawn: scales, limits, artists and texts are set without drawing)."""
    return next(ax for ax in figure.axes if ax.get_title().startswith(title_start))


def as_number(text: str) -> float:
    return float(text.replace("−", "-").replace(",", ""))


def test_a_millisecond_axis_reads_plain_numbers_in_ms_not_si_prefixes():
    rows = [sweep_row(side, macs, ms) for side, macs, ms in ((32, 1_100_000, 0.031), (48, 2_500_000, 0.052),
                                                             (64, 4_400_000, 0.079))]
    axes = drawn(sweep_plots.cost_figure(rows, "host"))[0]
    assert axes.get_ylabel().startswith("p50 latency per inference (ms)")
    ticks = tick_texts(axes.yaxis)
    assert ticks and all(0.01 <= as_number(text) <= 0.1 for text in ticks), ticks  # "30 m" would not parse
    assert {"0.03", "0.05", "0.07"} <= set(ticks)
    assert any(text.endswith(" M") for text in tick_texts(axes.xaxis)), "a bare count may carry its prefix"
    profile = drawn(plots.op_profile_figure(benchmark_ops()["ops"], "ops", emulated=False))[0]
    assert all(as_number(text) >= 0 for text in tick_texts(profile.xaxis))
    memory = drawn(plots.memory_figure([("m4", {"model": 6144, "harness": 1034}, {"model": 250900})], "m", True))
    assert all(as_number(text) >= 0 for ax in memory for text in tick_texts(ax.xaxis))


@pytest.mark.parametrize("values, log", [([1.0, 10.0], False), ([1.0, 10.01], True), ([0.05, 0.49], False),
                                         ([0.05, 13.1], True), ([0, 3, 40], True), ([0, 3, 29], False),
                                         ([5.0], False), ([None, 2.0, 30.0], True)])
def test_log_scale_exactly_where_the_values_span_more_than_10x(values, log):
    assert log_scale_fits(values) is log


def test_every_figure_takes_its_scale_from_the_span():
    fast, slow = host("litert", "tflite_int8", 36, 0.05), host("onnxruntime", "onnx_int8", 34, 0.3)
    near = panel(plots.accuracy_speed_figure([plots.bar_of(fast), plots.bar_of(slow)], "t"), "latency")  # 0.05-0.39
    far = panel(plots.accuracy_speed_figure([plots.bar_of(fast), plots.bar_of(replace(slow, latency_ms={
        "p50": 13.1, "p90": 21.7}))], "t"), "latency")
    assert (near.get_xscale(), far.get_xscale()) == ("linear", "log") and "log scale" in far.get_title()
    assert far.get_xlim()[0] > 0.01, "a bar drawn from 0 must not stretch a log axis down"
    narrow = [sweep_row(32, 1_000_000, 0.03), sweep_row(48, 9_000_000, 0.08)]
    wide = [sweep_row(32, 1_000_000, 0.03), sweep_row(48, 20_000_000, 0.8)]
    narrow_axes = sweep_plots.cost_figure(narrow, "host").axes[0]
    wide_axes = sweep_plots.cost_figure(wide, "host").axes[0]
    assert (narrow_axes.get_xscale(), narrow_axes.get_yscale()) == ("linear", "linear")
    assert (wide_axes.get_xscale(), wide_axes.get_yscale()) == ("log", "log")
    assert "log scale" in wide_axes.get_xlabel() and "log scale" not in narrow_axes.get_xlabel()
    macs_ax, cost_ax = plots.layer_cost_figure(LAYERS, "layers", emulated=True).axes
    assert (macs_ax.get_yscale(), cost_ax.get_yscale()) == ("linear", "log")  # 7.2x and 11.8x


def test_p50_and_p90_labels_sit_at_their_own_markers():
    bars = [plots.bar_of(m) for m in (host("litert", "tflite_int8", 36, 0.05), host("litert-ref", "tflite_int8",
                                                                                      35, 0.6))]
    ax = panel(plots.accuracy_speed_figure(bars, "speed"), "latency")
    widths = [(patch.get_width(), patch.get_y() + patch.get_height() / 2) for patch in ax.patches]
    diamonds = next(line for line in ax.lines if line.get_marker() == "D")
    p90s = list(zip(diamonds.get_xdata(), diamonds.get_ydata()))
    labels = {text.get_text(): text.xy for text in ax.texts}
    assert labels["p50 0.05"] == pytest.approx(widths[0]) and labels["p50 0.6"] == pytest.approx(widths[1])
    assert labels["p90 0.065"] == pytest.approx(p90s[0]) and labels["p90 0.78"] == pytest.approx(p90s[1])


def test_accuracy_is_points_with_wilson_bars_on_a_zoomed_axis_and_int8_minus_float_a_difference():
    int8, float_ = host("litert", "tflite_int8", 35, 0.05), host("litert", "tflite_float", 34, 0.2)
    other = host("onnxruntime", "onnx_int8", 36, 0.14)
    figure = plots.accuracy_speed_figure([plots.bar_of(m) for m in (int8, float_, other)], "accuracy")
    accuracy = panel(figure, "accuracy")
    assert not accuracy.patches, "no bars: a bar's length on a zoomed axis would mislead"
    spans = [container.lines[2][0].get_segments()[0] for container in accuracy.containers]
    for span, correct in zip(spans, (35, 34, 36)):
        low, high = wilson_interval(correct, N)
        assert [point[0] for point in span] == pytest.approx([100 * low, 100 * high])
    left, right = accuracy.get_xlim()
    assert 50 < left < min(p[0] for s in spans for p in s) and max(p[0] for s in spans for p in s) < right <= 100
    difference = panel(figure, "int8 − float")
    (segment,), = [container.lines[2][0].get_segments() for container in difference.containers]
    expected = difference_interval(35 / N, N, 34 / N, N)
    assert [point[0] for point in segment] == pytest.approx([100 * expected[0], 100 * expected[1]])
    assert segment[0][1] == 0, "the difference sits on the int8 row"
    assert [text.get_text() for text in difference.texts] == ["+2.5 [-13.3, +18.2]"]
    assert any("Wilson" in text and "Newcombe" in text for text in plots.figure_texts(figure))


def test_the_difference_interval_is_newcombes_hybrid_score_interval():
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, example (a): 56/70 - 48/80, method 10.
    assert difference_interval(56 / 70, 70, 48 / 80, 80) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_plain_numbers_have_no_exponent_and_no_prefix():
    assert [plain_number(v) for v in (0.03, 0.30000000000000004, 1_500_000, 250.0, 0)] == \
        ["0.03", "0.3", "1,500,000", "250", "0"]
    assert plain_number(0.0649999, 3) == "0.065"
