"""`--target android` end to end through the real adb client and mnd's test phone (tests/android/device.py: the adb
wire protocol on 127.0.0.1, a chroot whose /system/bin/sh is a static arm64 busybox run by qemu-user)."""
import json
import os
import shutil
import subprocess
import time

import pytest

from tests.android.fixtures import CONNECT_TIMEOUT_S, running_device
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


def _adb_connect(device, port: int) -> str:
    """`adb connect 127.0.0.1:PORT` on the test phone's adb server, once `adb devices` lists it as a device."""
    serial, env = f"127.0.0.1:{port}", {**os.environ, **device.env}
    subprocess.run(["adb", "connect", serial], env=env, capture_output=True, timeout=CONNECT_TIMEOUT_S)
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while f"{serial}\tdevice" not in subprocess.run(["adb", "devices"], env=env, capture_output=True,
                                                      text=True).stdout:
        assert time.monotonic() < deadline, f"adb never listed {serial} as a device"
        time.sleep(0.1)
    return serial


@pytest.mark.boards
def test_android_on_several_phones_every_row_once_naming_its_phone_and_a_gone_phone_reported(
        android_run, android_device, tmp_path):
    """Two test phones (two tests/android/device.py processes sharing one phone file system, each its own adb
    serial on the same adb server) and a serial adb does not know: mnd-c, the one work item without
    --benchmark-model, runs once on one of the two; the unknown one is reported at the check and as dropped out."""
    run = tmp_path / "run"
    shutil.copytree(android_run[0], run)
    with running_device(android_device.root, log_dir=tmp_path) as port:
        second = _adb_connect(android_device, port)
        phones = [android_device.serial, second, "127.0.0.1:1"]
        result = run_mnd("measure", run, "--target", "android", *[w for p in phones for w in ("--serial", p)],
                         "--runs", 1, "--warmup", 0, env=android_device.env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest, stderr = json.loads((run / "manifest.json").read_text()), result.stderr
    assert manifest["target"]["options"]["serials"] == phones
    (row,) = [m for m in manifest["measurements"] if m["target"] == "android"]
    assert row["runtime"] == "mnd-c" and row["n"] == 200 and row["board"] in phones[:2]
    assert row["accuracy"] == row["agreement"]["reference_accuracy"] and row["agreement"]["top1_differing"] == 0
    shares = {share["serial"]: share for share in manifest["target"]["board"]["boards"]}
    assert list(shares) == phones and shares[row["board"]]["rows"] == ["mnd-c"]
    assert sorted(row_id for share in shares.values() for row_id in share["rows"]) == ["mnd-c"]
    for serial in phones[:2]:
        assert shares[serial]["dropped"] is None and shares[serial]["facts"]["serial"] == serial
    assert shares["127.0.0.1:1"]["facts"] is None and "no Android device" in shares["127.0.0.1:1"]["dropped"]
    assert "warning: android: phone 127.0.0.1:1 does not answer: no Android device" in stderr, stderr[-2000:]
    assert "warning: android: phone 127.0.0.1:1 dropped out: no Android device" in stderr
    report = (run / "report.md").read_text()
    assert "- phone `127.0.0.1:1`: 0 rows; dropped out: no Android device" in report
    assert f"- phone `{row['board']}`: 1 row" in report and f"| emulated phone: {row['board']} |" in report


@pytest.mark.boards
def test_android_phone_gone_in_its_work_item_hands_the_item_to_another_phone(android_run, android_device, tmp_path):
    """`flaky` vanishes when mnd-c's files start to go over (its process exits: every connection closes, as when a
    phone is unplugged); `steady` holds its answers until then, so `flaky` is the one that takes the only work
    item, drops out in it, and `steady` measures it."""
    run, gone = tmp_path / "run", tmp_path / "flaky-gone"
    shutil.copytree(android_run[0], run)
    with running_device(android_device.root, "--vanish-on-sync", str(gone), log_dir=tmp_path) as flaky_port, \
            running_device(android_device.root, "--answer-after", str(gone), log_dir=tmp_path) as steady_port:
        flaky, steady = _adb_connect(android_device, flaky_port), _adb_connect(android_device, steady_port)
        result = run_mnd("measure", run, "--target", "android", "--serial", flaky, "--serial", steady, "--runs", 1,
                         "--warmup", 0, env=android_device.env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert gone.exists()
    manifest, stderr = json.loads((run / "manifest.json").read_text()), result.stderr
    (row,) = [m for m in manifest["measurements"] if m["target"] == "android"]
    assert row["board"] == steady and row["n"] == 200 and row["agreement"]["top1_differing"] == 0
    shares = {share["serial"]: share for share in manifest["target"]["board"]["boards"]}
    assert shares[steady]["rows"] == ["mnd-c"] and shares[steady]["dropped"] is None
    assert shares[flaky]["rows"] == [] and shares[flaky]["facts"]["serial"] == flaky and shares[flaky]["dropped"]
    assert f"warning: android: phone {flaky} dropped out: " in stderr, stderr[-2000:]
    assert "its work item moves to another phone" in stderr
    report = (run / "report.md").read_text()
    assert f"- phone `{flaky}`: 0 rows; dropped out: " in report and f"- phone `{steady}`: 1 row" in report
