"""The phone or board is checked when the target is resolved, before TensorFlow starts and before --out is claimed:
with no phone (a real, empty adb server) or no board (a closed port) export, sweep and measure refuse in seconds
with one line, import no heavy library and leave nothing; with the test phone or the test sshd the check passes.
`mnd targets` says "tools present, no device" vs "ready" and suggests only a ready target."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from mnd.base.errors import TargetUnavailable
from mnd.pipeline.export.run import check_target
from mnd.targets.android.device_check import server_address
from mnd.targets.base import NO_DEVICE, READY, BoardAccess, MeasureSettings
from mnd.targets.registry import get_target
from mnd.targets.transport.adb import NO_DEVICE as NO_PHONE
from tests.android.fixtures import adb_server, free_port
from tests.cli.test_heavy_imports import MARKER, PROBE
from tests.cli.test_measure_untrusted import snapshot
from tests.conftest import run_mnd, skip_or_fail
from tests.ssh_server import missing_tools, ssh_server

QUICK_S = 5


@pytest.fixture(scope="module")
def no_phone(tmp_path_factory):
    """{"ADB_SERVER_SOCKET": ...} of a running adb server with no device."""
    if shutil.which("adb") is None:
        skip_or_fail("adb not found (apt-get install adb)")
    with adb_server(tmp_path_factory.mktemp("adb-empty") / "home") as server:
        yield dict(server.env)


def refused_quickly(argv: list, env: dict, cwd) -> str:
    """Runs mnd in a child that reports the heavy modules it imported; asserts exit 2 within QUICK_S, no heavy
    import and nothing written in `cwd`; returns the one error line."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=cwd,
                            timeout=60, env={**os.environ, **env})
    elapsed = time.monotonic() - started
    *lines, last = result.stderr.splitlines()
    assert result.returncode == 2 and last.startswith(MARKER), result.stderr[-2000:]
    assert json.loads(last.removeprefix(MARKER)) == [] and elapsed < QUICK_S, (last, elapsed)
    assert list(cwd.iterdir()) == []
    (error,) = [line for line in lines if line.startswith("mnd: error:")]
    return error


@pytest.mark.parametrize("argv", [["export", "--model", "mobilenet_v1_025_32", "--out", "run"],
                                  ["sweep", "--cost-only", "--alpha", "0.25", "--resolution", "32", "--out", "sweep"]],
                         ids=["export", "sweep"])
def test_android_without_a_phone_is_refused_before_any_work(no_phone, tmp_path, argv):
    error = refused_quickly([*argv, "--target", "android"], no_phone, tmp_path)
    assert error == f"mnd: error: android: {NO_PHONE}"


def test_measure_without_a_phone_or_board_is_refused_before_any_work_leaving_the_run(no_phone, exported, tmp_path):
    run, work = tmp_path / "run", tmp_path / "work"
    shutil.copytree(exported[0], run, symlinks=True)
    work.mkdir()
    before = snapshot(run)
    error = refused_quickly(["measure", str(run), "--target", "android"], no_phone, work)
    assert error == f"mnd: error: android: {NO_PHONE}"
    error = refused_quickly(["measure", str(run), "--target", "rpi5", "--ssh", f"127.0.0.1:{free_port()}"], {}, work)
    assert error.startswith("mnd: error: rpi5: ssh: 127.0.0.1 port ") and "refused the connection" in error
    assert snapshot(run) == before


def test_android_check_names_an_absent_serial_and_export_itself_checks_no_device_twice(no_phone, monkeypatch):
    monkeypatch.setenv("ADB_SERVER_SOCKET", no_phone["ADB_SERVER_SOCKET"])
    with pytest.raises(TargetUnavailable) as absent:
        check_target("android", MeasureSettings(board=BoardAccess(serial="emulator-5554")))
    assert str(absent.value).startswith("android: no Android device emulator-5554 in `adb devices` (present: none)")
    assert check_target("android", MeasureSettings(), device=False).name == "android"  # export() after its caller


def test_android_with_the_test_phone_passes_the_check_and_is_ready(android_device, monkeypatch):
    for name, value in android_device.env.items():
        monkeypatch.setenv(name, value)
    settings = MeasureSettings(board=BoardAccess(serial=android_device.serial))
    assert check_target("android", settings).name == "android"
    assert check_target("android", MeasureSettings()).name == "android"  # the only device
    readiness = get_target("android").readiness(settings.board)
    assert (readiness.status, readiness.device) == (READY, f"adb {android_device.serial} (mnd_test_device)")


def test_ssh_board_on_a_closed_port_is_refused_at_once_naming_it(tmp_path):
    port = free_port()
    error = refused_quickly(["export", "--target", "rpi4", "--ssh", f"pi@127.0.0.1:{port}", "--out", "run"], {},
                            tmp_path)
    assert error == (f"mnd: error: rpi4: ssh: 127.0.0.1 port {port} refused the connection: is sshd running on the "
                     "board, and is the port right?")


@pytest.mark.boards
def test_several_ssh_boards_or_phones_none_answering_are_refused_at_once(no_phone, tmp_path):
    port = free_port()
    boards = ["--ssh", f"pi@127.0.0.1:{port}", "--ssh", f"root@127.0.0.1:{port}"]
    error = refused_quickly(["export", "--target", "rpi4", *boards, "--out", "run"], {}, tmp_path)
    assert error.startswith(f"mnd: error: rpi4: none of the 2 --ssh boards answers (the first: ssh: 127.0.0.1 port "
                            f"{port} refused the connection"), error
    error = refused_quickly(["export", "--target", "android", "--serial", "a", "--serial", "b", "--out", "run"],
                            no_phone, tmp_path)
    assert error.startswith("mnd: error: android: none of the 2 --serial phones answers (the first: no Android "
                            "device a in `adb devices`"), error


def test_ssh_board_that_answers_passes_and_an_unknown_host_key_is_named(tmp_path):
    reason = missing_tools()
    if reason:
        skip_or_fail(reason)
    with ssh_server(tmp_path / "sshd") as server:
        known = BoardAccess(ssh=server.host_alias, ssh_config=server.config)
        assert check_target("rpi4", MeasureSettings(board=known)).name == "rpi4"
        readiness = get_target("rpi5").readiness(known)
        assert (readiness.status, readiness.device) == (READY, f"ssh {server.host_alias}")
        unknown = BoardAccess(ssh=server.host_alias, ssh_config=server.config_unknown_host)
        with pytest.raises(TargetUnavailable, match="rpi4: ssh: testboard's host key is not known here; .*"
                                                    "--accept-new-host-key"):
            check_target("rpi4", MeasureSettings(board=unknown))


def test_targets_without_a_phone_says_no_device_and_suggests_a_ready_target(no_phone):
    listing = run_mnd("targets", env=no_phone, timeout=60)
    assert listing.returncode == 0, listing.stderr
    (android,) = [line for line in listing.stdout.splitlines() if line.startswith("android ")]
    assert android.split(None, 1)[1] == f"{NO_DEVICE}: {NO_PHONE}"
    assert f"rpi4         {get_target('rpi4').readiness().line()}" in listing.stdout.splitlines()
    (suggestion,) = [line for line in listing.stderr.splitlines() if line.startswith("mnd: next:")]
    assert suggestion.startswith("mnd: next: mnd export --target host ") and "android" not in suggestion
    rows = {row["name"]: row for row in json.loads(run_mnd("targets", "--json", env=no_phone, timeout=60).stdout)}
    assert (rows["android"]["status"], rows["android"]["available"]) == (NO_DEVICE, False)
    assert (rows["host"]["status"], rows["host"]["available"], rows["host"]["reason"]) == (READY, True, None)


def test_targets_does_not_start_an_adb_server():
    port = free_port()
    listing = run_mnd("targets", "--json", env={"ADB_SERVER_SOCKET": f"tcp:127.0.0.1:{port}"}, timeout=60)
    android = next(row for row in json.loads(listing.stdout) if row["name"] == "android")
    assert android["status"] == NO_DEVICE and android["reason"].startswith("no adb server is running")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.mark.parametrize("env, address", [({}, ("127.0.0.1", 5037)),
                                          ({"ADB_SERVER_SOCKET": "tcp:5038"}, ("127.0.0.1", 5038)),
                                          ({"ADB_SERVER_SOCKET": "tcp:10.0.0.2:5039"}, ("10.0.0.2", 5039)),
                                          ({"ADB_SERVER_SOCKET": "localfilesystem:/tmp/adb"}, None),
                                          ({"ANDROID_ADB_SERVER_PORT": "5040"}, ("127.0.0.1", 5040))])
def test_the_adb_server_address_is_read_as_adb_reads_it(monkeypatch, env, address):
    for name in ("ADB_SERVER_SOCKET", "ANDROID_ADB_SERVER_PORT", "ANDROID_ADB_SERVER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert server_address() == address
