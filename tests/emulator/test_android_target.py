"""`--target android` end to end through the real adb client and mnd's test phone (tests/android/device.py: the adb
wire protocol on 127.0.0.1, a chroot whose /system/bin/sh is a static arm64 busybox run by qemu-user)."""
import json

import pytest

from tests.conftest import run_mnd

pytestmark = [pytest.mark.emulator, pytest.mark.assets, pytest.mark.slow]


@pytest.fixture(scope="module")
def android_run(assets, android_device, tmp_path_factory):
    out = tmp_path_factory.mktemp("android") / "run"
    result = run_mnd("export", "--target", "android", "--serial", android_device.serial,
                     "--model", assets / "mlperf_vww" / "vww_96_int8.tflite", "--eval", assets / "vww_dev",
                     "--out", out, "--runs", 5, "--warmup", 1, env=android_device.env, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, json.loads((out / "manifest.json").read_text()), result.stderr


def test_android_mnd_c_on_all_200_images_is_bit_exact_with_the_host_and_labelled_emulated(android_run):
    out, manifest, stderr = android_run
    (row,) = [m for m in manifest["measurements"] if m["target"] == "android"]
    assert row["runtime"] == "mnd-c" and row["n"] == 200 and row["emulated"] and row["runs"] == 5
    assert row["accuracy"] == row["agreement"]["reference_accuracy"] and row["agreement"]["top1_differing"] == 0
    check = next(v for v in manifest["validations"] if v["name"] == "android mnd-c vs host litert-ref")
    assert check["passed"] and check["gated"] and check["detail"] == "0 of 200 samples differ"
    host_reference = next(v for v in manifest["validations"] if v["name"].startswith("tflm"))
    assert host_reference["passed"]
    phone = manifest["target"]["board"]
    assert phone["emulated"] and phone["abi"] == "arm64-v8a" and phone["model"] == "mnd test device"
    assert (out / "android" / "mnd-c").is_file() and (out / "android" / "Makefile").is_file()
    assert "emulated phone" in stderr


def test_android_report_labels_the_engine_and_the_emulation(android_run):
    out, manifest, _ = android_run
    report = (out / "report.md").read_text()
    assert "### `android` (emulated)" in report and "an emulated phone (ro.kernel.qemu=1)" in report
    assert "| tflite_int8 | mnd C engine (static executable) |" in report and "| emulated phone |" in report


def test_android_options_are_refused_on_other_targets_and_checked(tmp_path):
    result = run_mnd("export", "--target", "host", "--serial", "abc", "--out", tmp_path / "x")
    assert result.returncode == 2 and "--serial do not apply to host" in result.stderr
    result = run_mnd("export", "--target", "android", "--delegate", "tpu", "--out", tmp_path / "y")
    assert result.returncode == 2 and "unknown delegate 'tpu'" in result.stderr
    result = run_mnd("export", "--target", "android", "--benchmark-model", tmp_path / "missing", "--out",
                     tmp_path / "z")
    assert result.returncode == 2 and "android_aarch64_benchmark_model" in result.stderr
    assert not any((tmp_path / name).exists() for name in "xyz")
