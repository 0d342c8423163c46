"""An Android phone reached with the system adb client (`adb`, run as a subprocess per operation): USB or
`adb connect HOST:PORT`, through whichever adb server the user runs (ADB_SERVER_SOCKET is honoured by adb itself).

Work directories live under /data/local/tmp, the one place a shell user may write and execute. Remote commands
run under the phone's `timeout -s KILL`, so a hung program is stopped on the phone too. With the shell protocol
(feature shell_v2, Android 7 and later) adb's own exit status is the remote one and stderr comes back apart; an
older phone returns neither, so the command ends by echoing a unique marker and its status, parsed off stdout
(its stderr then arrives mixed into stdout, and RemoteResult.stderr is empty; a phone whose adbd gives such
commands a pty may also turn newlines into \r\n, passed on as they are). Files keep their mode: adbd sets
each pushed file's mode from the local one (an executable stays executable)."""
import math
import re
import secrets
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mnd.base.errors import TargetUnavailable
from mnd.base.shell_word import shell_word
from mnd.targets.toolchain import install_hint
from mnd.targets.transport.base import RemoteResult, RemoteTimeout, Transport, TransportError, run_in_own_group

WORK_ROOT = PurePosixPath("/data/local/tmp")
WORKDIR_PREFIX = "mnd."
LOCAL_GRACE_S = 30  # the local adb is killed this long after the remote limit, should the phone stop answering
CONTROL_TIMEOUT_S = 60  # devices, features, mktemp, rm, getprop
TRANSFER_TIMEOUT_S = 3600  # push and pull
TIMED_OUT_STATUSES = (124, 128 + 9)  # toybox timeout's own status; a program killed by SIGKILL (busybox, toybox)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROPERTY_LINE = re.compile(r"^\[([^\]]*)\]: \[(.*)\]$", re.MULTILINE)
NO_DEVICE = ("no Android device in `adb devices`: plug one in by USB with USB debugging on (Settings > Developer "
             "options) and accept its 'Allow USB debugging' prompt, or `adb connect HOST:PORT`")
# The first stderr line of an adb that failed itself (not the remote command), and what to do about it.
ADB_FAILURES = (
    (r"^error: device offline", "is offline: reconnect it (unplug and plug the cable, or `adb reconnect`)"),
    (r"^error: device unauthorized", "is unauthorized: accept the 'Allow USB debugging' prompt on the phone"),
    (r"^error: (device '.*' not found|no devices/emulators found)",
     "is gone: reconnect it (check `adb devices`, or `adb connect HOST:PORT` again)"),
    (r"^(error|adb: error): (closed|protocol fault|connection reset)", "lost the connection:"),
    (r"^(error|adb: error): cannot connect to daemon",
     "cannot reach the adb server: start it with `adb start-server` (or fix ADB_SERVER_SOCKET):"),
)


@dataclass(frozen=True)
class ListedDevice:
    """One line of `adb devices -l`: `SERIAL STATE key:value...` (STATE may be `no permissions (...)`)."""
    serial: str
    state: str
    details: dict = field(default_factory=dict)


def parse_devices(text: str) -> list:
    devices = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or line.startswith(("List of devices", "*", "adb ")):
            continue
        if words[1] == "no" and len(words) > 2 and words[2].startswith("permissions"):
            devices.append(ListedDevice(words[0], "no permissions"))
            continue
        details = dict(word.split(":", 1) for word in words[2:] if ":" in word)
        devices.append(ListedDevice(words[0], words[1], details))
    return devices


def state_problem(device: ListedDevice) -> str | None:
    """None for a device ready to use, else one line saying what is wrong and how to fix it."""
    name, state = f"adb {shell_word(device.serial)}", device.state
    if state == "device":
        return None
    if state == "unauthorized":
        return f"{name} is unauthorized: accept the 'Allow USB debugging' prompt on the phone"
    if state == "offline":
        return f"{name} is offline: reconnect it (unplug and plug the cable, or `adb reconnect`)"
    if state == "no permissions":
        return (f"{name}: no permission to open the USB device: add your user to the plugdev group and install "
                "udev rules (apt-get install android-sdk-platform-tools-common), then replug it")
    if state in ("authorizing", "connecting"):
        return f"{name} is still {state}: wait a few seconds and try again"
    return f"{name} is in {state} mode, not running Android: reboot it (`adb -s {shell_word(device.serial)} reboot`)"


def choose_device(devices: list, serial: str | None) -> ListedDevice:
    """The one device to use: `serial` among those listed, or the only one listed; TransportError otherwise."""
    if serial is not None:
        matching = [device for device in devices if device.serial == serial]
        if not matching:
            present = ", ".join(shell_word(device.serial) for device in devices) or "none"
            raise TransportError(f"no Android device {shell_word(serial)} in `adb devices` (present: {present}): "
                                 f"connect it, or `adb connect {shell_word(serial)}` for a phone on the network")
        chosen = matching[0]
    elif not devices:
        raise TransportError(NO_DEVICE)
    elif len(devices) > 1:
        raise TransportError(f"several devices ({', '.join(shell_word(device.serial) for device in devices)}): "
                             "pass --serial")
    else:
        chosen = devices[0]
    problem = state_problem(chosen)
    if problem:
        raise TransportError(problem)
    return chosen


class AdbTransport(Transport):
    """One Android device over adb, chosen on creation (`serial`, or the only device adb lists)."""

    def __init__(self, serial: str | None = None, *, adb: str = "adb"):
        found = shutil.which(adb)
        if found is None:
            raise TargetUnavailable(f"adb not found — {install_hint('adb')}")
        self.adb, self.serial = found, None
        listing = self._adb(["devices", "-l"], timeout=CONTROL_TIMEOUT_S, what="list devices")
        if listing.returncode != 0:
            raise TransportError(f"`adb devices` failed: {_error_line(listing)}; start the adb server with "
                                 "`adb start-server` (or fix ADB_SERVER_SOCKET)")
        device = choose_device(parse_devices(listing.stdout.decode(errors="replace")), serial)
        self.serial = device.serial
        self.model = device.details.get("model")
        features = self._checked_adb(["features"], "read the device's features").stdout.decode(errors="replace")
        self.shell_v2 = "shell_v2" in re.split(r"[\s,]+", features)

    def describe(self) -> str:
        return f"adb {shell_word(self.serial)}" + (f" ({self.model})" if self.model else "")

    def make_workdir(self) -> str:
        done = self._checked_shell(f"mktemp -d {WORK_ROOT}/{WORKDIR_PREFIX}XXXXXXXX", "create a work directory")
        path = done.stdout.decode(errors="replace").strip()
        if not _is_workdir(path):
            raise TransportError(f"{self._name()}: mktemp -d printed {path!r}, not a directory under {WORK_ROOT}")
        return path

    def remove_workdir(self, remote_dir: str) -> None:
        if not _is_workdir(remote_dir):
            raise TransportError(f"{self._name()}: refusing to remove {remote_dir!r}: not a work directory of mnd "
                                 f"({WORK_ROOT}/{WORKDIR_PREFIX}*)")
        self._checked_shell(f"rm -rf {shlex.quote(remote_dir)}", f"remove {remote_dir}")

    def push(self, files: list, remote_dir: str) -> None:
        """One `adb push` for all files; adb passes the names as they are (no shell reads them)."""
        files = [Path(file) for file in files]
        names = [file.name for file in files]
        if len(set(names)) != len(names):
            raise TransportError(f"push to {self._name()}: two files share a name: {sorted(names)}")
        for file in files:
            if not file.is_file():
                raise TransportError(f"push to {self._name()}: {file} is not a file")
        if not files:
            return
        _require_absolute(remote_dir, self._name())
        self._checked_adb(["push", *(str(file.resolve()) for file in files), f"{remote_dir.rstrip('/')}/"],
                          f"copy {len(files)} file(s) to {remote_dir}", timeout=TRANSFER_TIMEOUT_S)

    def pull(self, remote_dir: str, names: list, local_dir: Path) -> None:
        """Plain names only (no '/', no '..'); each must come back as a regular file."""
        _require_absolute(remote_dir, self._name())
        for name in names:
            if not name or "/" in name or name in (".", ".."):
                raise TransportError(f"pull from {self._name()}: {name!r} is not a name inside the work directory")
        local_dir = Path(local_dir)
        local_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            remote = f"{remote_dir.rstrip('/')}/{name}"
            done = self._adb(["pull", remote, str((local_dir / name).absolute())], timeout=TRANSFER_TIMEOUT_S,
                             what=f"copy {name} back")
            if done.returncode != 0:
                line = _error_line(done)
                if "does not exist" in line:
                    raise TransportError(f"pull from {self._name()}: {name} not found in {remote_dir}")
                raise TransportError(self._adb_failure(done.stderr) or
                                     f"pull from {self._name()}: could not copy {remote} back: {line}")
            if not (local_dir / name).is_file():
                raise TransportError(f"pull from {self._name()}: {remote} is not a regular file")

    def run(self, argv: list, *, cwd: str, timeout: float, env: dict | None = None) -> RemoteResult:
        if not argv:
            raise TransportError(f"{self._name()}: nothing to run (an empty argv)")
        if not timeout > 0:
            raise TransportError(f"{self._name()}: a time limit must be positive, not {timeout}")
        _require_absolute(cwd, self._name())
        assignments = []
        for name, value in (env or {}).items():
            if not ENV_NAME.fullmatch(name):
                raise TransportError(f"{self._name()}: {name!r} is not an environment variable name")
            assignments.append(f"{name}={value}")
        words = (["env", *assignments] if assignments else []) + ["timeout", "-s", "KILL", str(math.ceil(timeout))]
        exec_word = "exec " if self.shell_v2 else ""  # without the shell protocol the shell must live to echo $?
        command = f"cd {shlex.quote(cwd)} && {exec_word}{shlex.join([*words, *map(str, argv)])}"
        started = time.monotonic()
        done = self._shell(command, timeout=timeout + LOCAL_GRACE_S, what=f"{argv[0]} (limit {timeout:g} s)")
        if done.returncode in TIMED_OUT_STATUSES and time.monotonic() - started >= timeout:
            raise RemoteTimeout(f"{self._name()}: {argv[0]} ran past its {timeout:g} s limit and was stopped")
        return done

    def getprop(self) -> dict:
        """The phone's system properties (`getprop`'s `[key]: [value]` lines)."""
        text = self._checked_shell("getprop", "read the system properties").stdout.decode(errors="replace")
        return dict(PROPERTY_LINE.findall(text.replace("\r\n", "\n")))

    def _shell(self, command: str, *, timeout: float, what: str) -> RemoteResult:
        """`adb shell COMMAND` -> the remote exit status, stdout, stderr; TransportError when adb itself failed."""
        marker = None if self.shell_v2 else f"mnd-exit-{secrets.token_hex(8)}:"
        remote = command if marker is None else f'{command}; echo "{marker}$?"'
        done = self._adb(["shell", remote], timeout=timeout, what=what)
        failure = self._adb_failure(done.stderr) if done.returncode != 0 or marker is not None else None
        if failure:
            raise TransportError(failure)
        if marker is None:
            return RemoteResult(done.returncode, done.stdout, done.stderr)
        output, found, status = done.stdout.rpartition(marker.encode())
        status = status.rstrip(b"\r\n")
        if not found or not status.isdigit():
            raise TransportError(f"{self._name()}: no exit status came back for {what} (the connection was lost?); "
                                 f"check `adb devices` and retry")
        return RemoteResult(int(status), output, done.stderr)

    def _checked_shell(self, command: str, what: str) -> RemoteResult:
        """A command of ours: any non-zero exit is a TransportError naming what failed."""
        done = self._shell(command, timeout=CONTROL_TIMEOUT_S, what=what)
        if done.returncode != 0:
            detail = _first_line(done.stderr) or _first_line(done.stdout)
            raise TransportError(f"{self._name()}: could not {what} (exit {done.returncode}): {detail}".rstrip(": "))
        return done

    def _checked_adb(self, arguments: list, what: str, *, timeout: float = CONTROL_TIMEOUT_S):
        done = self._adb(arguments, timeout=timeout, what=what)
        if done.returncode != 0:
            raise TransportError(self._adb_failure(done.stderr) or
                                 f"{self._name()}: could not {what}: {_error_line(done)}".rstrip(": "))
        return done

    def _adb(self, arguments: list, *, timeout: float, what: str) -> subprocess.CompletedProcess:
        """Runs adb (-s SERIAL once chosen) in its own process group, killed whole when `timeout` passes
        (RemoteTimeout) or on an exception such as KeyboardInterrupt."""
        argv = [self.adb, *(["-s", self.serial] if self.serial else []), *arguments]
        return run_in_own_group(argv, timeout=timeout,
                                timeout_message=f"{self._name()}: no answer within {timeout:g} s for {what}; adb was "
                                                "killed (is the phone still connected? check `adb devices`)")

    def _adb_failure(self, stderr: bytes) -> str | None:
        """One line for a failure of adb itself found in stderr's first line, naming the fix; else None."""
        line = _first_line(stderr)
        for pattern, meaning in ADB_FAILURES:
            if re.match(pattern, line):
                return f"{self._name()} {meaning}" + (f" {line}" if meaning.endswith(":") else "")
        return None

    def _name(self) -> str:
        return f"adb {shell_word(self.serial)}" if self.serial else "adb"


def _is_workdir(path: str) -> bool:
    remote = PurePosixPath(path)
    return (remote.parent == WORK_ROOT and remote.name.startswith(WORKDIR_PREFIX) and remote.name != WORKDIR_PREFIX
            and "\n" not in path and ".." not in remote.parts)


def _require_absolute(path: str, name: str) -> None:
    if not str(path).startswith("/"):
        raise TransportError(f"{name}: {path!r} is not an absolute path on the phone")


def _first_line(data: bytes) -> str:
    lines = data.decode(errors="replace").replace("\r", "").strip().splitlines()
    return lines[0].strip() if lines else ""


def _error_line(done: subprocess.CompletedProcess) -> str:
    """What adb said about its failure: the last line naming an error on stderr, else on stdout (adb push and pull
    report through their progress output, on stdout), else stderr's last line."""
    for data in (done.stderr, done.stdout):
        errors = [line.strip() for line in data.decode(errors="replace").replace("\r", "\n").splitlines()
                  if "error" in line.lower()]
        if errors:
            return errors[-1]
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else ""

