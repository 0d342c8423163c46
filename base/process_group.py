"""Tools run as children that never outlive mnd: each in a process group of its own, killed whole (its own children
too, such as gcc's cc1 and as) when a signal, a time limit or any other exception ends the wait, and waited for
until none of them is left."""
import errno
import os
import signal
import subprocess
import time
from pathlib import Path

from mnd.base import interrupts

GONE_WITHIN_S = 10


def run_group(argv: list, *, cwd=None, env=None, timeout: float | None = None, text: bool = False,
              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    """subprocess.run(argv, capture_output=True) in a new process group (`stdout` may be a file instead). On
    TimeoutExpired, KeyboardInterrupt (the signal handler's) or anything else, the whole group is killed and gone
    before the exception goes on. A tool killed by SIGXFSZ raises the OSError (EFBIG) that a write of mnd's own
    would."""
    with interrupts.deferred():  # a signal between fork and the wait below would leave the group unwatched
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=stdin, stdout=stdout,
                                   stderr=subprocess.PIPE, text=text, start_new_session=True)
    try:
        interrupts.raise_if_requested()
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        expired.output, expired.stderr = kill_group(process)
        raise
    except BaseException:
        kill_group(process)
        raise
    if process.returncode == -signal.SIGXFSZ:  # the file size limit ('ulimit -f') stopped a write of the tool
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), None if cwd is None else str(cwd))
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def kill_group(process: subprocess.Popen) -> tuple:
    """SIGKILL to the process group `process` leads, then wait until every member has exited; (stdout, stderr)
    read so far."""
    with interrupts.deferred():
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        output = process.communicate()  # the pipes close when the last member holding them exits
        _wait_until_gone(process.pid)
    return output


def _wait_until_gone(group: int) -> None:
    """A member that closed its pipes may still be running: wait (and kill again) until none lives."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while members(group) and time.monotonic() < deadline:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def members(group: int) -> list:
    """The live (not zombie) processes of process group `group`, from /proc."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # exited meanwhile
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            alive.append(int(entry.name))
    return alive
