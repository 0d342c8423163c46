"""Which layers the quantization report points at (quantize.layer_flags) and how it words them and the weight
spread (pipeline.report.quantization, layer_flags): on synthetic layer lists, no conversion."""
import json

import numpy as np
import pytest

from mnd.base.json_shape import check
from mnd.pipeline.manifest import LAYER_QUALITY_SHAPE
from mnd.pipeline.report.layer_flags import flag_cell, flags_line
from mnd.pipeline.report.quantization import quantization_section
from mnd.quantize.layer_flags import flag_layers
from mnd.quantize.layer_quality import LayerQuality, weight_spread

# The user's run (issue 24): the accumulated SQNR falls from 40.6 to 24.3 dB over layers 0-5, most at 1, 3 and 5,
# then stays near 24 dB; the layers' own SQNR is lowest at 17, 22 and 24, where the accumulated SQNR hardly moves.
ACCUMULATED = [40.6, 33.0, 31.5, 27.0, 26.0, 24.3] + [24.3 - 0.05 * i for i in range(1, 22)] + [23.5]
ISOLATED = {17: 14.0, 22: 12.5, 24: 13.2}


def _chain(accumulated: list, isolated: dict) -> list:
    return [LayerQuality(depth, f"layer_{depth}", "CONV_2D", f"t{depth}", sqnr, isolated.get(depth, 35.0 + depth % 3),
                         0.01, 0.1, inputs=(depth - 1,) if depth else ())
            for depth, sqnr in enumerate(accumulated)]


@pytest.fixture
def users_case() -> list:
    return [layer.to_dict() for layer in flag_layers(_chain(ACCUMULATED, ISOLATED))]


def _rows(lines: list) -> list:
    return [line for line in lines if line.startswith("| ") and not line.startswith("| #")]


def test_the_users_case_flags_the_drops_and_the_lowest_layers_apart(users_case):
    assert [layer["depth"] for layer in users_case if layer["largest_drop"]] == [1, 3, 5]
    assert [layer["depth"] for layer in users_case if layer["lowest_layer_sqnr"]] == [17, 22, 24]
    assert users_case[0]["accumulated_drop_db"] is None, "the first layer reads the model input: no drop"
    assert users_case[1]["accumulated_drop_db"] == pytest.approx(7.6) and users_case[1]["drop_from"] == 0
    assert all(check(layer, LAYER_QUALITY_SHAPE, "layer") == [] for layer in json.loads(json.dumps(users_case)))


def test_the_users_case_in_markdown_names_each_reason(users_case):
    lines = quantization_section({"layers": users_case})
    rows = _rows(lines)
    assert rows[1].endswith("| ⚠ largest accumulated drop (−7.6 dB from #0) |")
    assert rows[3].endswith("| ⚠ largest accumulated drop (−4.5 dB from #2) |")
    assert all(rows[depth].endswith("| ⚠ lowest layer SQNR |") for depth in (17, 22, 24))
    assert sum("⚠" in row for row in rows) == 6
    assert ("Accumulated SQNR drops most at: #1 layer_1 (−7.6 dB from #0), #3 layer_3 (−4.5 dB from #2), "
            "#5 layer_5 (−1.7 dB from #4); lowest own SQNR: #17 layer_17 (14.0 dB), #22 layer_22 (12.5 dB), "
            "#24 layer_24 (13.2 dB).") in lines


def test_a_branch_drops_from_the_input_it_reads_and_an_add_from_the_worse_of_its_two():
    # 0 -> 1 (skip, clean) and 0 -> 2 -> 3 (branch, noisy); 4 = ADD(1, 3): a residual block in TFLite order
    layers = [LayerQuality(0, "stem", "CONV_2D", "t0", 40.0, 40.0, 0.0, 0.0),
              LayerQuality(1, "expand", "CONV_2D", "t1", 38.0, 40.0, 0.0, 0.0, inputs=(0,)),
              LayerQuality(2, "dw", "DEPTHWISE_CONV_2D", "t2", 25.0, 26.0, 0.0, 0.0, inputs=(0,)),
              LayerQuality(3, "project", "CONV_2D", "t3", 24.5, 30.0, 0.0, 0.0, inputs=(2,)),
              LayerQuality(4, "add", "ADD", "t4", 24.0, 45.0, 0.0, 0.0, inputs=(1, 3))]
    flagged = flag_layers(layers, k=2)
    assert [layer.accumulated_drop_db for layer in flagged] == [None, 2.0, 15.0, 0.5, 0.5]
    assert [layer.drop_from for layer in flagged] == [None, 0, 0, 2, 3]
    assert [layer.depth for layer in flagged if layer.largest_drop] == [1, 2]


def test_rises_and_unmeasured_layers_are_never_largest_drops():
    layers = _chain([30.0, 32.0, None, 31.0, 33.0], {})
    flagged = flag_layers(layers)
    assert [layer.accumulated_drop_db for layer in flagged] == [None, -2.0, None, None, -2.0]
    assert not any(layer.largest_drop for layer in flagged)
    assert "drops most at: nowhere;" in flags_line([layer.to_dict() for layer in flagged])


def test_an_old_manifest_with_only_flagged_reads_as_lowest_layer_sqnr():
    layer = {"depth": 4, "name": "pw_2", "op": "CONV_2D", "sqnr_db": 20.0, "layer_sqnr_db": 11.0, "flagged": True}
    assert flag_cell(layer) == "⚠ lowest layer SQNR"
    assert flags_line([layer]) == ("Accumulated SQNR drops most at: not recorded in this run (exported before mnd "
                                   "measured it); lowest own SQNR: #4 pw_2 (11.0 dB).")


@pytest.mark.parametrize("spread, dead, channels, shown", [
    (6.05e+29, 3, 16, "3/16 channels dead"),  # an old manifest: a channel equalization shrank to ~1e-15
    (None, 1, 8, "1/8 channels dead"),  # an old manifest: one channel exactly zero
    (None, 0, 8, "all 8 channels zero"),  # an old manifest: the whole layer zero
    (None, 8, 8, "all 8 channels zero"),
    (12.345, 0, 16, "12.3"),
])
def test_dead_channels_are_counted_not_turned_into_ratios(spread, dead, channels, shown):
    layer = {"name": "dw_3", "op": "DEPTHWISE_CONV_2D", "sqnr_db": 30.0, "layer_sqnr_db": 31.0,
             "weight_range_spread": spread, "weight_channels": channels, "dead_channels": dead}
    row = _rows(quantization_section({"layers": [layer]}))[0]
    assert row.split(" | ")[7] == shown


def test_weight_spread_leaves_the_ratio_out_where_a_channel_is_dead():
    kernel = np.ones((3, 3, 4, 1), np.float32) * np.array([1.0, 0.5, 2.0, 0.25], np.float32)[:, None]
    assert weight_spread(kernel, 2) == (8.0, 4, 0)
    kernel[:, :, 1] = 1e-15
    assert weight_spread(kernel, 2) == (None, 4, 1)
    kernel[:, :, 3] = 0.0
    assert weight_spread(kernel, 2) == (None, 4, 2)
    assert weight_spread(np.zeros((16, 1, 1, 8), np.float32), 0) == (None, 16, 16)


def test_the_figure_marks_each_reason_at_its_layers(users_case):
    from mnd.pipeline.report.quantization_plots import sqnr_by_depth_figure

    figure = sqnr_by_depth_figure(users_case, "issue 24")
    marks = {line.get_label(): list(line.get_xdata()) for line in figure.axes[0].get_lines()}
    assert marks["flagged: largest accumulated drop"] == [1, 3, 5]
    assert marks["flagged: lowest layer SQNR"] == [17, 22, 24]
    legend = [entry.get_text() for entry in figure.axes[0].get_legend().get_texts()]
    assert {"flagged: largest accumulated drop", "flagged: lowest layer SQNR"} <= set(legend)
