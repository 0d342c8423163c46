"""The Transport interface every board connection implements (SSH, the local emulated arm64 root filesystem,
adb): a private work directory, push, run, pull; every failure one TransportError line naming the fix."""
import subprocess
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from mnd.base.errors import MndError
from mnd.base.process_group import run_group


class TransportError(MndError):
    """The board could not be reached, refused us, or a remote command failed to start; the message says why
    and how to fix it."""


class RemoteTimeout(TransportError):
    """A remote command ran past its time limit and was stopped."""


@dataclass(frozen=True)
class RemoteResult:
    returncode: int
    stdout: bytes
    stderr: bytes


def run_in_own_group(argv: list, *, timeout: float, timeout_message: str, stdin=None,
                     stdout=None) -> subprocess.CompletedProcess:
    """Runs a local client (ssh, adb, the emulated board's launcher) through `process_group.run_group`: its own
    process group, killed whole and waited for when `timeout` passes (RemoteTimeout with `timeout_message`) or on any
    exception such as KeyboardInterrupt. `stdin` defaults to /dev/null, `stdout` to a pipe. An OSError from starting
    it reaches the caller, as does the OSError (EFBIG) of a client the file size limit killed."""
    try:
        done = run_group(argv, timeout=timeout, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                         stdout=stdout if stdout is not None else subprocess.PIPE)
    except subprocess.TimeoutExpired:
        raise RemoteTimeout(timeout_message) from None
    return subprocess.CompletedProcess(argv, done.returncode, done.stdout or b"", done.stderr or b"")


class Transport:
    """One connection to one board. `describe()` names it for logs and the report ("ssh pi@raspberrypi",
    "emulated arm64 (qemu-aarch64, cortex-a72)")."""

    def describe(self) -> str:
        raise NotImplementedError

    def make_workdir(self) -> str:
        """A new private (mode 700) directory on the board; its absolute path there."""
        raise NotImplementedError

    def remove_workdir(self, remote_dir: str) -> None:
        """Remove what make_workdir made, with everything in it; never raises for an already missing one."""
        raise NotImplementedError

    def push(self, files: list, remote_dir: str) -> None:
        """Copy each local file (a Path) into remote_dir under its own name; names may hold spaces and quotes."""
        raise NotImplementedError

    def pull(self, remote_dir: str, names: list, local_dir: Path) -> None:
        """Copy the named files of remote_dir into local_dir; a missing one is a TransportError."""
        raise NotImplementedError

    def run(self, argv: list, *, cwd: str, timeout: float, env: dict | None = None) -> RemoteResult:
        """Run argv (a list: every argument quoted for the remote shell) in cwd on the board, with `env` added to
        its environment; RemoteTimeout when it takes longer than `timeout` seconds (the remote process is
        stopped too). A non-zero exit status is returned, not raised: the caller knows what it means."""
        raise NotImplementedError

    @contextmanager
    def workdir(self):
        """make_workdir's directory, removed afterwards; a failed removal never hides the error that ended the
        block."""
        remote_dir = self.make_workdir()
        try:
            yield remote_dir
        except BaseException:
            with suppress(TransportError):
                self.remove_workdir(remote_dir)
            raise
        self.remove_workdir(remote_dir)
