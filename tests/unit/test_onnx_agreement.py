"""Fused ONNX Runtime kernels vs the exact QDQ arithmetic: the warning's reasons, its place in the manifest and report."""
from dataclasses import replace

import numpy as np
import pytest

from mnd.pipeline import validate
from mnd.pipeline.manifest import Manifest, Measurement
from mnd.pipeline.report.markdown import render
from mnd.targets.host import agreement_record, fused_exact_note

NO_VNNI = {"machine": "x86_64", "isa_flags": ["sse4_2", "avx", "avx2", "fma"]}
VNNI = {"machine": "x86_64", "isa_flags": ["avx2", "avx512f", "avx512_vnni"]}
ARM = {"machine": "aarch64", "isa_flags": ["asimd", "asimddp"]}
MND_QUANTIZED = {"onnx_reduce_range": False}


def test_no_difference_no_note():
    assert fused_exact_note(0, 200, NO_VNNI, MND_QUANTIZED) is None


def test_x86_without_vnni_names_saturation_and_both_fixes():
    note = fused_exact_note(5, 200, NO_VNNI, MND_QUANTIZED)
    assert "5 of 200" in note and "no VNNI" in note and "vpmaddubsw" in note
    assert "--onnx-reduce-range" in note and "tflite_int8" in note


@pytest.mark.parametrize("cpu, quantization, cause", [
    (VNNI, MND_QUANTIZED, "has VNNI"),
    (ARM, MND_QUANTIZED, "not x86 (aarch64)"),
    (NO_VNNI, {"onnx_reduce_range": True}, "7-bit weights cannot saturate"),
    (NO_VNNI, {}, "vpmaddubsw"),  # an imported int8 .tflite: its weights are not mnd's to change
])
def test_other_causes_do_not_suggest_reduce_range(cpu, quantization, cause):
    note = fused_exact_note(1, 100, cpu, quantization)
    assert cause in note and "--onnx-reduce-range" not in note and "deploy the tflite_int8 artifact" in note


def test_only_the_exactly_validated_int8_model_gets_a_note():
    exact = np.eye(2)[np.arange(10) % 2]
    fused = exact.copy()
    fused[:3] = fused[:3, ::-1]
    labels = np.arange(10) % 2
    record = agreement_record("onnx_int8", fused, exact, labels, NO_VNNI, MND_QUANTIZED)
    assert record["top1_differing"] == 3 and record["n"] == 10 and record["reference_accuracy"] == 1.0
    assert "3 of 10" in record["note"]
    assert agreement_record("onnx_uint8", fused, exact, labels, NO_VNNI, {})["note"] is None


def _measurement(note, differing=1):
    agreement = {"reference": "onnxruntime-exact", "n": 100, "top1_differing": differing,
                 "reference_accuracy": 0.85, "note": note}
    return Measurement(target="host", runtime="onnxruntime", artifact="onnx_int8", accuracy=0.84, n=100,
                       latency_ms={"p50": 0.3, "p90": 0.4}, runs=10, threads=1, warmup=1, agreement=agreement)


def _manifest(**fields) -> Manifest:
    return Manifest(model={"name": "m", "input_shape": [1, 8, 8, 3], "classes": 2,
                           "preprocessing": {"formula": "x / 255"}},
                    quantization={"scheme": "int8-per-channel", "calibration_samples": 10,
                                  "onnx_reduce_range": False},
                    data={"evaluation": {"samples": 100, "source": "d", "part": "all"}},
                    target={"name": "host"}, environment={"cpu_model": "cpu", "machine": "x86_64"}, **fields)


def test_notes_travel_into_warnings_and_leave_with_their_measurement(tmp_path):
    manifest = _manifest(warnings=("repaired 1 tensor(s)",)).with_measurements((_measurement("first"),))
    assert manifest.warnings == ("repaired 1 tensor(s)", "first")
    manifest = manifest.with_measurements((_measurement(None, differing=0),))
    assert manifest.warnings == ("repaired 1 tensor(s)",)
    manifest = manifest.with_measurements((_measurement("second"),))
    manifest.write(tmp_path)
    again = Manifest.read(tmp_path)
    assert again == manifest and again.measurements[0].agreement["top1_differing"] == 1


def test_report_shows_the_agreement_row_and_the_warning_once():
    text = render(_manifest().with_measurements((_measurement("onnx_int8: fused disagrees"),)))
    assert "| onnx_int8 | 84.0% [75.6, 89.9] | 85.0% [76.7, 90.7] | 1 | 100 |" in text
    assert text.count("- warning: onnx_int8: fused disagrees") == 1
    text = render(_manifest(measurements=(_measurement("onnx_int8: fused disagrees"),)))  # not yet in warnings
    assert text.count("- warning: onnx_int8: fused disagrees") == 1


def test_report_names_seven_bit_onnx_weights():
    manifest = _manifest()
    assert "7-bit" not in render(manifest)
    seven_bit = replace(manifest, quantization={**manifest.quantization, "onnx_reduce_range": True})
    assert "ONNX weights 7-bit (`--onnx-reduce-range`)" in render(seven_bit)


def test_exact_agreement_keeps_the_top1_threshold():
    reference = np.eye(2)[np.arange(100) % 2]
    one_off, two_off = reference.copy(), reference.copy()
    one_off[0] = one_off[0][::-1]
    two_off[:2] = two_off[:2, ::-1]
    assert validate.onnx_exact_agreement("c", one_off, reference).passed
    failed = validate.onnx_exact_agreement("c", two_off, reference)
    assert not failed.passed and failed.threshold == 1 and "graph optimizations off" in failed.detail
