"""parse_benchmark_output on benchmark_model outputs (origins: benchmark_model_samples/README.md) and broken ones."""
from pathlib import Path

import pytest

from mnd.targets.android.benchmark_model import BenchmarkOutputError, parse_benchmark_output

SAMPLES = Path(__file__).parent / "benchmark_model_samples"
CONSTRUCTED = "litert_constructed_percentiles_op_profiling.txt"


def sample_text(name: str) -> str:
    """The sample without its leading '# source:' / '# what:' comment block."""
    lines = (SAMPLES / name).read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("# "):
        lines.pop(0)
    return "".join(lines)


def parsed(name: str) -> dict:
    return parse_benchmark_output(sample_text(name))


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_benchmark_model_samples_all_have_their_origin_written_down():
    readme = (SAMPLES / "README.md").read_text()
    samples = sorted(SAMPLES.glob("*.txt"))
    assert len(samples) >= 4
    for sample in samples:
        head = sample.read_text().splitlines()[:2]
        assert head[0].startswith("# source: ") and head[1].startswith("# what: "), sample.name
        assert sample.name in readme


def test_benchmark_model_tf_models_sample_without_percentiles():
    result = parsed("tf_models_10006_no_profiling.txt")
    assert result["init_ms"] == pytest.approx(2.725)
    assert result["first_inference_us"] == 228120
    assert result["warmup_avg_us"] == 216727
    assert result["inference_avg_us"] == 211509
    assert result["inference"] == {"count": 50, "first": 212029, "curr": 210534, "min": 210383, "max": 213942,
                                   "avg": 211509, "std": 760, "p5": None, "median": None, "p95": None}
    assert result["warmup"]["count"] == 3 and result["warmup"]["avg"] == 216727
    assert result["memory"] == {"init_mb": 4.02344, "overall_mb": 38.2773, "peak_mb": None}
    assert result["ops"] is None and result["init"] is None
    assert result["num_threads"] == 4 and result["num_runs"] is None and result["delegates"] == {}


def test_benchmark_model_xnnpack_sample_reads_memory_delta_line():
    result = parsed("xnnpack_999_memory_delta.txt")
    assert result["inference"]["count"] == 50
    assert result["inference"]["avg"] == pytest.approx(55043.2)
    assert result["inference_avg_us"] == pytest.approx(55043.2)
    assert result["init_ms"] == pytest.approx(18.777)
    assert result["warmup"]["first"] == 64791
    assert result["memory"] == {"init_mb": 8.97656, "overall_mb": 18.7227, "peak_mb": None}


def test_benchmark_model_oldest_average_timings_summary():
    result = parsed("yuenshome_77_average_timings.txt")
    assert result["inference_avg_us"] == pytest.approx(66767.6)
    assert result["warmup_avg_us"] == pytest.approx(76605.9)
    assert result["init_ms"] == pytest.approx(9.933)
    assert result["first_inference_us"] == 127425  # not in the summary: the warm-up's first run
    assert result["inference"]["count"] == 15 and result["inference"]["std"] == 39
    assert result["memory"] is None


def test_benchmark_model_readme_sample_with_op_profiling_table():
    result = parsed("tf_readme_op_profiling.txt")
    assert result["init_ms"] == pytest.approx(38.467)
    assert result["warmup_avg_us"] == 83235
    assert result["inference_avg_us"] == pytest.approx(79760.9)
    assert result["first_inference_us"] is None
    assert result["warmup"] is None
    assert result["inference"]["count"] == 50 and result["inference"]["avg"] == 79732  # the profile's Timings line
    ops = result["ops"]
    assert [op["node_type"] for op in ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX", "RESHAPE", "AVERAGE_POOL_2D"]
    assert ops[0] == {"node_type": "CONV_2D", "avg_ms": 1.406, "percent": 89.27, "times_called": 0, "count": 15}
    assert ops[1]["avg_ms"] == 0.169 and ops[1]["count"] == 13
    assert sum(op["percent"] for op in ops) == pytest.approx(100, abs=0.01)


def test_benchmark_model_constructed_litert_sample_with_percentiles_and_short_form():
    result = parsed(CONSTRUCTED)
    assert result["inference"] == {"count": 100, "first": 24107, "curr": 23466, "min": 22915, "max": 27341,
                                   "avg": 23689.4, "std": 612, "p5": 23011, "median": 23530, "p95": 25102}
    assert result["warmup"] == {"count": 1, "first": 31874, "curr": 31874, "min": 31874, "max": 31874,
                                "avg": 31874, "std": 0, "p5": 31874, "median": 31874, "p95": 31874}
    assert result["init"]["count"] == 1 and result["init"]["avg"] == 21400  # the initialization profile
    assert result["init_ms"] == pytest.approx(21.4)
    assert result["memory"] == {"init_mb": 6.5, "overall_mb": 13.25, "peak_mb": 15.0195}
    assert (result["num_runs"], result["num_threads"], result["warmup_runs"]) == (100, 4, 1)
    assert result["delegates"] == {"xnnpack": False}


def test_benchmark_model_op_table_is_the_regular_runs_not_the_initialization():
    ops = parsed(CONSTRUCTED)["ops"]
    assert [op["node_type"] for op in ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "SOFTMAX", "RESHAPE"]
    assert [op["times_called"] for op in ops] == [15, 13, 1, 1, 1]
    assert ops[0]["avg_ms"] == 17.112 and ops[0]["percent"] == 74.326
    assert sum(op["percent"] for op in ops) == pytest.approx(100, abs=0.01)


def test_benchmark_model_summary_line_alone_behind_a_logcat_prefix():
    result = parsed("litert_docs_logcat_summary_only.txt")
    assert result["inference_avg_us"] == pytest.approx(14575.2)
    assert result["first_inference_us"] == 18535
    assert result["init_ms"] == pytest.approx(5.685)
    assert result["inference"] is None and result["warmup"] is None


def test_benchmark_model_android_logcat_threadtime_prefix_is_ignored():
    lines = sample_text("tf_models_10006_no_profiling.txt").splitlines()
    logcat = "\n".join(f"05-30 13:04:39.021 25935 25935 I tflite  : {line}" for line in lines)
    assert parse_benchmark_output(logcat)["inference"]["avg"] == 211509


def test_benchmark_model_all_same_form_with_count_above_one():
    text = ("Running benchmark for at least 3 iterations and at least 0 seconds\ncount=3 curr=500(all same)\n\n"
            "Running benchmark for at least 5 iterations and at least 0 seconds\n"
            "count=5 curr=400(all same) p5=400 median=400 p95=400\n")
    result = parse_benchmark_output(text)
    assert result["warmup"]["avg"] == 500 and result["warmup"]["min"] == 500 and result["warmup"]["p5"] is None
    assert result["inference"]["count"] == 5 and result["inference"]["median"] == 400
    assert result["inference_avg_us"] == 400 and result["first_inference_us"] == 500


def test_benchmark_model_older_curr_first_statistics_order():
    text = ("Running benchmark for at least 1 iterations and at least 0.5 seconds\n"
            "curr=120 count=4 min=100 max=130 avg=115 std=11\n"
            "Running benchmark for at least 50 iterations and at least 1 seconds\n"
            "curr=110 count=50 min=90 max=140 avg=105.5 std=9\n")
    result = parse_benchmark_output(text)
    assert result["inference"]["avg"] == 105.5 and result["inference"]["first"] is None


def test_benchmark_model_node_types_with_spaces_and_csv_tables():
    table = ("Operator-wise Profiling Info for Regular Benchmark Runs:\n"
             "============================== Summary by node type ==============================\n"
             "\t             [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]\t  [mem KB]\t[times called]\n"
             "\tConvolution (NHWC, QC8) IGEMM\t       14\t     2.500\t    62.500%\t    62.500%\t     0.000\t       14\n"
             "\t   TfLiteXNNPackDelegate\t        1\t     1.500\t    37.500%\t   100.000%\t     0.000\t        1\n\n"
             "Timings (microseconds): count=10 first=4100 curr=4000 min=3900 max=4100 avg=4000 std=60\n")
    ops = parse_benchmark_output(table)["ops"]
    assert ops[0]["node_type"] == "Convolution (NHWC, QC8) IGEMM" and ops[0]["times_called"] == 14
    csv = ("============================== Summary by node type ==============================\n"
           "node type, count, avg_ms, avg %, cdf %, mem KB, times called\n"
           "CONV_2D, 15, 1.406, 89.27%, 89.27%, 0, 15\n\n"
           "Timings (microseconds): count=50 first=1 curr=2 min=1 max=3 avg=2 std=1\n")
    assert parse_benchmark_output(csv)["ops"] == [
        {"node_type": "CONV_2D", "avg_ms": 1.406, "percent": 89.27, "times_called": 15, "count": 15}]


def test_benchmark_model_table_header_columns_are_read_by_name():
    text = ("============================== Summary by node type ==============================\n"
            "\t[avg %]\t[Node type]\t[avg ms]\n\t55.000%\tCONV_2D\t1.100\n\t45.000%\tSOFTMAX\t0.900\n\n"
            "Inference timings in us: Init: 1, First inference: 2, Warmup (avg): 3, Inference (avg): 4\n")
    ops = parse_benchmark_output(text)["ops"]
    assert ops[1] == {"node_type": "SOFTMAX", "avg_ms": 0.9, "percent": 45.0, "times_called": None, "count": None}


@pytest.mark.parametrize(("old", "new", "quoted"), [
    ("avg=211509 std=760", "avg=abc std=760", "count=50 first=212029 curr=210534 min=210383 max=213942 avg=abc"),
    ("avg=211509 std=760", "avg=211509 stdev=760", "stdev=760"),
    ("count=50 first=212029", "first=212029", "first=212029 curr=210534"),
    ("Inference (avg): 211509", "Inference (avg): fast", "Inference timings in us: Init: 2725"),
    ("Warmup (avg): 216727", "Warmup mean: 216727", "Warmup mean: 216727"),
    ("init=4.02344 overall=38.2773", "init=4.02344", "Peak memory footprint (MB): init=4.02344"),
    ("Num threads: [4]", "Num threads: [four]", "Num threads: [four]"),
])
def test_benchmark_model_malformed_lines_raise_quoting_the_line(old, new, quoted):
    text = replace_once(sample_text("tf_models_10006_no_profiling.txt"), old, new)
    with pytest.raises(BenchmarkOutputError) as error:
        parse_benchmark_output(text)
    assert quoted in str(error.value)


@pytest.mark.parametrize(("old", "new", "quoted"), [
    ("\t        1\t     0.041\t     0.178%", "\t        1\t     0.041\t     0.178", "SOFTMAX"),
    ("\t       13\t     5.763\t    25.032%", "\t       13\t     5.763", "DEPTHWISE_CONV_2D"),
    ("\t        1\t     0.009\t     0.038%\t   100.000%\t     0.000\t        1",
     "\t        1\t     0.009\t     0.038%\t   100.000%\t     0.000\t      1.5", "RESHAPE"),
    ("[times called]\n\t                 CONV_2D", "[calls]\n\t                 CONV_2D", "[calls]"),
])
def test_benchmark_model_malformed_op_table_raises_quoting_the_row(old, new, quoted):
    text = replace_once(sample_text(CONSTRUCTED), old, new)
    with pytest.raises(BenchmarkOutputError) as error:
        parse_benchmark_output(text)
    assert quoted in str(error.value)


def test_benchmark_model_long_offending_lines_are_truncated_in_the_message():
    text = "Running benchmark for at least 1 iterations\ncount=1 curr=" + "9" * 500 + "x\n"
    with pytest.raises(BenchmarkOutputError) as error:
        parse_benchmark_output(text)
    assert "..." in str(error.value) and len(str(error.value)) < 600


def test_benchmark_model_output_without_timings_raises_with_its_last_lines():
    text = ("STARTING!\nNum threads: [4]\nGraph: [/data/local/tmp/m.tflite]\n"
            "ERROR: Following operations are not supported by GPU delegate:\nBenchmarking failed.\n")
    with pytest.raises(BenchmarkOutputError, match="no inference timings; its last lines: .*Benchmarking failed"):
        parse_benchmark_output(text)
    with pytest.raises(BenchmarkOutputError, match="no inference timings"):
        parse_benchmark_output("")


def test_benchmark_model_running_line_without_statistics_raises():
    text = "Running benchmark for at least 50 iterations and at least 1 seconds\nSegmentation fault\n"
    with pytest.raises(BenchmarkOutputError, match="no statistics line"):
        parse_benchmark_output(text)


def test_benchmark_model_zero_timed_runs_raise():
    text = ("Running benchmark for at least 0 iterations and at least -1 seconds\ncount=0\n\n"
            "Running benchmark for at least 0 iterations and at least -1 seconds\ncount=0 p5=0 median=0 p95=0\n\n"
            "Inference timings in us: Init: 100, First inference: 0, Warmup (avg): nan, Inference (avg): nan\n")
    with pytest.raises(BenchmarkOutputError, match="'nan', not a number"):
        parse_benchmark_output(text)
    with pytest.raises(BenchmarkOutputError, match="ran no timed inference"):
        parse_benchmark_output(text.rsplit("Inference timings", 1)[0])
