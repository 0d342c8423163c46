"""The cortex-m-mobilenets benchmark's pure helpers: the vendor-tree cache key, run.sh's count, the table."""
import hashlib

from tests.bench import cortex_m_mobilenets as bench
from tests.bench import tflm_cmsis_nn as tflm


def test_cache_key_is_the_manifest_digest_prefix():
    text = b"abc  file\n"
    assert tflm.cache_key(text) == hashlib.sha256(text).hexdigest()[:12]
    assert tflm.cache_key(text) != tflm.cache_key(text + b"x")


def test_parse_invoke_reads_run_sh_last_line():
    out = "bench-output: 1 2\ninvoke_instructions=24102320 markers=2 total_instructions=25000000\n"
    assert tflm.parse_invoke(out) == 24102320


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
