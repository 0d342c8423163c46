"""AdbTransport against the test phone (tests/android/device.py, the real adb wire protocol) through the real
adb client and a private adb server: names with spaces and quotes survive, exit statuses come back with and
without the shell protocol, a hung command is stopped on the phone, a static aarch64 program runs there, and
every way of not having a usable phone is one line naming the fix."""
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mnd.base.errors import TargetUnavailable
from mnd.targets.registry import get_target
from mnd.targets.transport.adb import NO_DEVICE, AdbTransport
from mnd.targets.transport.base import RemoteTimeout, TransportError
from tests.android.fixtures import adb_server, running_device
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.emulator

QUOTED_NAME = 'it\'s a "test" file.bin'
AWKWARD_ARGS = [QUOTED_NAME, "two  spaces", "$HOME", "`id`", "; rm -rf /", "*", "", "back\\slash", "-n"]
HELLO_C = r"""
#include <stdio.h>
#include <sys/utsname.h>
int main(int argc, char **argv) {
    struct utsname name;
    uname(&name);
    printf("hello from %s: %s\n", name.machine, argc > 1 ? argv[1] : "");
    fprintf(stderr, "to stderr\n");
    return 42;
}
"""


@pytest.fixture
def phone(android_device, monkeypatch):
    for name, value in android_device.env.items():
        monkeypatch.setenv(name, value)
    return android_device


@pytest.fixture
def transport(phone):
    return AdbTransport(phone.serial)


@pytest.fixture(scope="module")
def android_lab(android_device, tmp_path_factory):
    """A second adb server holding the session phone again, a phone without shell_v2, an unauthorized one and
    an offline one: {"server": AdbServer, "phone": serial, "old": serial, "unauthorized": ..., "offline": ...}."""
    logs = tmp_path_factory.mktemp("android-lab")
    root = android_device.root
    with running_device(root, "--no-shell-v2", log_dir=logs) as old, \
            running_device(root, "--state", "unauthorized", log_dir=logs) as unauthorized, \
            running_device(root, "--state", "offline", log_dir=logs) as offline, \
            adb_server(logs / "adb-home") as server:
        yield {"server": server, "phone": server.connect(android_device.port), "old": server.connect(old),
               "unauthorized": server.connect(unauthorized, "unauthorized"),
               "offline": server.connect(offline, "offline")}


@pytest.fixture
def lab(android_lab, monkeypatch):
    for name, value in android_lab["server"].env.items():
        monkeypatch.setenv(name, value)
    return android_lab


def test_adb_round_trip_keeps_names_arguments_and_the_executable_bit(transport, phone, tmp_path):
    payload = tmp_path / QUOTED_NAME
    payload.write_bytes(bytes(range(256)) * 1200)  # several WRTEs and sync DATA chunks
    script = tmp_path / "run me.sh"
    script.write_text("#!/system/bin/sh\necho ran in $(pwd)\n")
    script.chmod(0o755)
    with transport.workdir() as workdir:
        assert workdir.startswith("/data/local/tmp/mnd.")
        assert (phone.root / workdir.lstrip("/")).stat().st_mode & 0o777 == 0o700
        transport.push([payload, script], workdir)
        echoed = transport.run(["printf", "%s|", *AWKWARD_ARGS], cwd=workdir, timeout=10)
        assert echoed.stdout.decode() == "".join(f"{arg}|" for arg in AWKWARD_ARGS)
        assert transport.run(["./run me.sh"], cwd=workdir, timeout=10).stdout.decode() == f"ran in {workdir}\n"
        back = tmp_path / "back"
        transport.pull(workdir, [QUOTED_NAME], back)
        assert (back / QUOTED_NAME).read_bytes() == payload.read_bytes()
        with pytest.raises(TransportError, match="no-such-file not found in /data/local/tmp/mnd"):
            transport.pull(workdir, ["no-such-file"], back)
    assert not (phone.root / workdir.lstrip("/")).exists()


def test_adb_shell_v2_returns_the_exit_status_and_separate_stderr(transport):
    assert transport.shell_v2
    done = transport.run(["sh", "-c", "echo out; echo err >&2; exit 7"], cwd="/", timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (7, b"out\n", b"err\n")
    shown = transport.run(["sh", "-c", 'printf %s "$MND_VALUE"'], cwd="/", timeout=10,
                          env={"MND_VALUE": "a 'b' \"c\" $d"})
    assert shown.stdout == b"a 'b' \"c\" $d"


def test_adb_without_shell_v2_recovers_the_exit_status_from_a_marker(lab):
    old = AdbTransport(lab["old"])
    assert not old.shell_v2
    done = old.run(["sh", "-c", "exit 7"], cwd="/", timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (7, b"", b"")
    mixed = old.run(["sh", "-c", "printf no-newline; echo err >&2"], cwd="/", timeout=10)
    assert (mixed.returncode, mixed.stdout) == (0, b"no-newlineerr\n")  # one stream without the shell protocol
    with old.workdir() as workdir:
        assert old.run(["ls"], cwd=workdir, timeout=10).returncode == 0


def test_adb_remote_timeout_stops_the_command_on_the_phone(transport, phone):
    started = time.monotonic()
    with pytest.raises(RemoteTimeout, match="sleep ran past its 3 s limit"):
        transport.run(["sleep", "600"], cwd="/", timeout=3)
    assert time.monotonic() - started < 15
    sleeping = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True).stdout.split()
    assert not [pid for pid in sleeping if _root_of(pid) == phone.root]


def _root_of(pid: str):
    try:
        return Path(os.readlink(f"/proc/{pid}/root"))
    except OSError:
        return None


def test_adb_device_runs_streams_and_connections_concurrently(transport, phone):
    results, other = [], AdbTransport(phone.serial)
    threads = [threading.Thread(target=lambda t=t: results.append(t.run(["sleep", "2"], cwd="/", timeout=10)))
               for t in (transport, transport, other)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [result.returncode for result in results] == [0, 0, 0]
    assert time.monotonic() - started < 4.5  # three 2 s sleeps at once, not one after another


def test_android_static_aarch64_program_runs_on_the_phone(transport, tmp_path):
    compiler = shutil.which("aarch64-linux-gnu-gcc")
    if compiler is None:
        skip_or_fail("aarch64-linux-gnu-gcc not found (apt-get install gcc-aarch64-linux-gnu)")
    source, program = tmp_path / "hello.c", tmp_path / "hello arm64"
    source.write_text(HELLO_C)
    subprocess.run([compiler, "-static", "-O2", "-Wl,-z,max-page-size=16384", "-o", str(program), str(source)],
                   check=True)
    with transport.workdir() as workdir:
        transport.push([program], workdir)  # adb keeps the mode: no chmod needed, as on a phone
        done = transport.run(["./hello arm64", "an argument"], cwd=workdir, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (42, b"hello from aarch64: an argument\n",
                                                           b"to stderr\n")


def test_android_getprop_and_describe(transport):
    properties = transport.getprop()
    assert properties["ro.product.model"] == "mnd test device"
    assert properties["ro.kernel.qemu"] == "1"
    assert properties["ro.product.cpu.abi"] == "arm64-v8a"
    assert transport.describe() == f"adb {transport.serial} (mnd_test_device)"


def test_adb_remove_workdir_refuses_what_mnd_did_not_make(transport):
    for path in ("/data/local/tmp", "/data/local/tmp/other", "/sdcard/mnd.x", "/data/local/tmp/mnd.x/../.."):
        with pytest.raises(TransportError, match="refusing to remove"):
            transport.remove_workdir(path)


def test_android_device_keeps_sync_inside_the_phone_root(transport, phone, tmp_path):
    with transport.workdir() as workdir:
        (phone.root / workdir.lstrip("/") / "host").symlink_to("/")
        with pytest.raises(TransportError, match="not found"):
            transport.pull(f"{workdir}/host/etc", ["hostname"], tmp_path)


def test_adb_unauthorized_and_offline_phones_name_the_fix(lab):
    with pytest.raises(TransportError) as unauthorized:
        AdbTransport(lab["unauthorized"])
    assert str(unauthorized.value) == (f"adb {lab['unauthorized']} is unauthorized: accept the 'Allow USB "
                                       "debugging' prompt on the phone")
    with pytest.raises(TransportError) as offline:
        AdbTransport(lab["offline"])
    assert str(offline.value) == (f"adb {lab['offline']} is offline: reconnect it (unplug and plug the cable, or "
                                  "`adb reconnect`)")


def test_adb_several_devices_or_an_absent_serial_list_those_present(lab):
    present = ", ".join(lab["server"].states())  # in adb's order
    assert {lab["phone"], lab["old"]} <= set(lab["server"].states())
    with pytest.raises(TransportError) as several:
        AdbTransport()
    assert str(several.value) == f"several devices ({present}): pass --serial"
    ready = ", ".join(serial for serial, state in lab["server"].states().items() if state == "device")
    readiness = get_target("android").readiness()  # what `mnd targets` says: ready, and which phones
    assert (readiness.status, readiness.device) == ("ready", f"2 phones ({ready}): pass --serial to choose one")
    with pytest.raises(TransportError, match=f"no Android device 127.0.0.1:1 in `adb devices` \\(present: "
                                             f"{present}\\)"):
        AdbTransport("127.0.0.1:1")


def test_adb_no_device_and_no_adb_name_the_fix(tmp_path, monkeypatch):
    with adb_server(tmp_path / "adb-home") as empty:
        monkeypatch.setenv("ADB_SERVER_SOCKET", empty.env["ADB_SERVER_SOCKET"])
        with pytest.raises(TransportError) as nothing:
            AdbTransport()
        assert str(nothing.value) == NO_DEVICE
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TargetUnavailable, match="adb not found — sudo apt-get install adb"):
        AdbTransport()
