"""The test phone for tests (registered by tests/conftest.py's pytest_plugins): `android_device`, a session
fixture, is tests/android/device.py on a free port, reached through a private adb server on another free port
(never the user's server on 5037, never the user's ~/.android keys). Tests talk to it with the system adb client
and `env` ({"ADB_SERVER_SOCKET": ...}) in the environment; AdbTransport(device.serial) then works as on a phone.

`running_device` and `AdbServer` start more phones and servers (unauthorized, offline, without shell_v2)."""
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.android.phone_root import make_phone_root
from tests.conftest import REPO, skip_or_fail

START_TIMEOUT_S = 15
CONNECT_TIMEOUT_S = 15


@dataclass(frozen=True)
class AndroidDevice:
    serial: str  # "127.0.0.1:PORT", as adb names it
    port: int
    root: Path  # the phone's file system on this machine (its /data/local/tmp is root / "data/local/tmp")
    env: dict  # {"ADB_SERVER_SOCKET": "tcp:127.0.0.1:SERVER_PORT"}: add it to every adb call's environment


def missing_tools() -> str | None:
    """Why no test phone can run here, or None."""
    if shutil.which("adb") is None:
        return "adb not found (apt-get install adb)"
    if os.geteuid() != 0:
        return "the test phone needs root (it chroots into its file system and creates /dev/null there)"
    if shutil.which("chroot") is None:
        return "chroot not found (coreutils)"
    from mnd.targets.linux_arm64.rootfs import binfmt_ready

    return binfmt_ready()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_device(root: Path, *options: str, log_dir: Path):
    """Starts `python -m tests.android.device --root ROOT OPTIONS...` on a free port, yields the port once the
    device printed `ready`, and kills it afterwards."""
    for attempt in range(3):
        port = free_port()
        log = Path(log_dir) / f"device-{port}.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen([sys.executable, "-m", "tests.android.device", "--port", str(port),
                                        "--root", str(root), *options], cwd=REPO, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=log_file, start_new_session=True)
        if _printed_ready(process):
            break
        _stop(process)
        if attempt == 2:
            raise RuntimeError(f"the test phone did not start; its log {log}:\n{log.read_text()[-2000:]}")
    try:
        yield port
    finally:
        _stop(process)


class AdbServer:
    """`adb server nodaemon` on a free port, with a private HOME (its adbkey) and TMPDIR (its log)."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self._helpers = []  # `adb connect` processes still waiting on a phone that does not answer
        for attempt in range(3):
            self.port = free_port()
            self.env = {"ADB_SERVER_SOCKET": f"tcp:127.0.0.1:{self.port}"}
            server_env = {**os.environ, **self.env, "HOME": str(self.home), "ANDROID_SDK_HOME": str(self.home),
                          "TMPDIR": str(self.home)}
            with (self.home / "server.log").open("ab") as log_file:
                self.process = subprocess.Popen(["adb", "-L", f"tcp:{self.port}", "server", "nodaemon"],
                                                env=server_env, stdin=subprocess.DEVNULL, stdout=log_file,
                                                stderr=log_file, start_new_session=True)
            if _answers(self.process, self.port):
                return
            _stop(self.process)
        raise RuntimeError(f"adb server did not start: {(self.home / 'server.log').read_text()[-2000:]}")

    def adb(self, *arguments: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["adb", *arguments], env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def states(self) -> dict:
        """{serial: state} from `adb devices`."""
        lines = self.adb("devices").stdout.splitlines()[1:]
        return dict(line.split()[:2] for line in lines if len(line.split()) >= 2)

    def connect(self, port: int, state: str = "device") -> str:
        """`adb connect 127.0.0.1:PORT`, once `adb devices` lists it as `state`; its serial. A phone that never
        answers keeps `adb connect` waiting (10 s) while adb already lists it as offline: it waits in the
        background and is stopped with the server."""
        serial = f"127.0.0.1:{port}"
        connecting = subprocess.Popen(["adb", "connect", serial], env={**os.environ, **self.env},
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        self._helpers.append(connecting)
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while (listed := self.states().get(serial)) != state:
            if time.monotonic() > deadline:
                raise RuntimeError(f"adb lists {serial} as {listed!r}, not {state!r}, {CONNECT_TIMEOUT_S} s after "
                                   f"`adb connect`; server log {self.home / 'server.log'}")
            time.sleep(0.1)
        return serial

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.adb("kill-server", timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for process in [*self._helpers, self.process]:
            _stop(process)


@contextmanager
def adb_server(home: Path):
    server = AdbServer(home)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def android_phone_root(request, tmp_path_factory) -> Path:
    """The phone's file system (tests/android/phone_root.py) with busybox from the cached arm64 root filesystem
    (built once, about 3 minutes, when missing)."""
    reason = missing_tools()
    if reason:
        skip_or_fail(reason)
    busybox = request.getfixturevalue("arm64_rootfs") / "bin" / "busybox"
    if not busybox.is_file():
        skip_or_fail(f"{busybox} is missing: the arm64 root filesystem predates busybox-static; rebuild it")
    return make_phone_root(tmp_path_factory.mktemp("phone") / "root", busybox)


@pytest.fixture(scope="session")
def android_device(android_phone_root, tmp_path_factory):
    """One test phone (shell_v2, state device) connected to its own adb server; see AndroidDevice."""
    logs = tmp_path_factory.mktemp("android-device")
    with running_device(android_phone_root, log_dir=logs) as port, adb_server(logs / "adb-home") as server:
        serial = server.connect(port)
        yield AndroidDevice(serial, port, android_phone_root, dict(server.env))


def _printed_ready(process: subprocess.Popen) -> bool:
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    return bool(ready) and process.stdout.readline().strip() == b"ready"


def _answers(process: subprocess.Popen, port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen) -> None:
    """Kills the process group we started the process in (its children too)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()
    if process.stdout is not None:
        process.stdout.close()
