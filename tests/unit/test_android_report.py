"""The report's Android section: the phone's facts, mnd-c's row and benchmark_model's timings and slowest ops."""
from pathlib import Path

from mnd.pipeline.manifest import Measurement
from mnd.pipeline.report.phone import render_phone
from mnd.targets.android.benchmark_model import parse_benchmark_output

SAMPLES = Path(__file__).parent / "benchmark_model_samples"
PHONE = {"model": "Pixel 8", "manufacturer": "Google", "soc": "Tensor G3", "android": "14", "sdk": "34",
         "abi": "arm64-v8a", "serial": "ABC123", "emulated": False}


def _sample(name: str) -> str:
    return "\n".join(line for line in (SAMPLES / name).read_text().splitlines() if not line.startswith("# "))


def test_android_report_shows_the_engine_and_benchmark_model_rows_from_a_real_output():
    parsed = parse_benchmark_output(_sample("tf_readme_op_profiling.txt"))
    engine = Measurement(target="android", runtime="mnd-c", artifact="tflite_int8", accuracy=0.85, n=200,
                         latency_ms={"p50": 3.2, "p90": 3.9}, runs=100, threads=1, warmup=10)
    bench = Measurement(target="android", runtime="benchmark_model-xnnpack", artifact="tflite_int8", accuracy=None,
                        n=0, latency_ms=None, runs=parsed["inference"]["count"], threads=4, warmup=10,
                        benchmark=parsed)
    lines = render_phone([engine, bench], {"tflite_int8": 333288}, PHONE)
    text = "\n".join(lines)
    assert "### `android`" in text and "(emulated)" not in text
    assert "- a phone: Google Pixel 8, SoC Tensor G3, Android 14 (SDK 34), arm64-v8a, serial `ABC123`" in text
    assert ("| tflite_int8 | mnd C engine (static executable) | 333,288 | 85.0% [79.4, 89.3] | 200 | 3.200 | 3.900 | "
            "100 | 1 | phone |") in text
    row = next(line for line in lines if line.startswith("| tflite_int8 | xnnpack | 4 |"))
    assert f"{parsed['inference']['avg'] / 1000:.3f}" in row
    slowest = max(parsed["ops"], key=lambda op: op["percent"])
    assert f"{slowest['node_type']} {slowest['percent']:.1f}%" in row


def test_android_report_labels_an_emulated_phone():
    engine = Measurement(target="android", runtime="mnd-c", artifact="tflite_int8", accuracy=0.5, n=2,
                         latency_ms={"p50": 30.0, "p90": 31.0}, runs=3, threads=1, warmup=1, emulated=True)
    text = "\n".join(render_phone([engine], {}, {**PHONE, "emulated": True}))
    assert "### `android` (emulated)" in text and "an emulated phone (ro.kernel.qemu=1)" in text
    assert "| emulated phone |" in text and "says nothing about a real phone" in text
