"""The cortex-m-mobilenets benchmark's pure helpers: the table and the goals from the measured counts."""
from tests.bench import cortex_m_mobilenets as bench


def test_table_and_goals_use_the_measured_counts():
    row = {"reference": (100, True), "cmsis_nn": (50, True), "mnd-c": (25, True), "kernel_set": "dsp"}
    rows = {("mobilenet_v2_035_96_int8", "cortex-m4"): row,
            ("mobilenet_v3s_075_96_int8", "cortex-m4"): {**row, "mnd-c": (30, True)}}
    lines = bench.table(rows)
    assert any("| cortex-m4 |" in line and "0.50x" in line for line in lines)
    goals = "\n".join(bench.goals(rows))
    assert "measured 0.50x" in goals and "**met**" in goals
    assert "measured 0.60x" in goals and "**NOT met**" in goals
    assert "cortex-m55" in goals and "not measured" in goals
