"""The `shell:` services the way adbd runs them: the command goes to the phone's /system/bin/sh -c, here inside
ROOT (`chroot ROOT /system/bin/sh -c CMD`, cwd /, as root rather than adbd's uid 2000).

`shell:CMD` (no shell protocol): stdout and stderr share the stream, the host's data is stdin, and the exit status
is lost, exactly as with adbd. `shell,v2,...:CMD` (shell protocol, feature shell_v2): both directions carry
packets of one id byte and a 4-byte little-endian length (shell_protocol.h): stdin 0, stdout 1, stderr 2, exit 3
(one byte, 128+N for a death by signal N), close-stdin 4, window-size-change 5 (ignored: there is no pty here).
Output is sent until the shell has exited and its pipes are empty; anything a background process writes later
is dropped. A stream the host closes first kills the command's whole process group."""
import os
import select
import shutil
import signal
import struct
import subprocess
import threading
from pathlib import Path

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW_SIZE = 0, 1, 2, 3, 4, 5
PACKET_HEADER = struct.Struct("<BI")
POLL_S = 0.05
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"  # found here: the phone's PATH has no chroot


def phone_environment() -> dict:
    """The environment of a command on the phone (adbd's shell has a similar one); QEMU_CPU picks the CPU that
    qemu-aarch64 emulates for the phone's arm64 programs."""
    return {"PATH": "/system/bin", "HOME": "/", "TMPDIR": "/data/local/tmp", "ANDROID_ROOT": "/system",
            "ANDROID_DATA": "/data", "QEMU_CPU": os.environ.get("QEMU_CPU", "cortex-a76")}


def parse_shell_service(service: str) -> tuple | None:
    """`shell[,ARG...]:COMMAND` -> (uses the shell protocol, COMMAND); None for anything else."""
    head, colon, command = service.partition(":")
    words = head.split(",")
    if not colon or words[0] != "shell":
        return None
    return "v2" in words[1:], command


def serve_shell(stream, root: Path, command: str, shell_protocol: bool) -> None:
    argv = [CHROOT, str(root), "/system/bin/sh"] + (["-c", command] if command else [])
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE if shell_protocol else subprocess.STDOUT,
                               env=phone_environment(), start_new_session=True)
    feeder = threading.Thread(target=_feed_stdin, args=(stream, process, shell_protocol), daemon=True)
    feeder.start()
    try:
        _send_output(stream, process, shell_protocol)
        status = process.wait()
        if shell_protocol:
            exit_status = 128 + -status if status < 0 else status
            stream.write(PACKET_HEADER.pack(ID_EXIT, 1) + bytes([exit_status & 0xFF]))
    finally:
        if process.poll() is None:
            _kill_group(process)
        process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def _send_output(stream, process: subprocess.Popen, shell_protocol: bool) -> None:
    """Until the process exited and its pipes are empty, or the host closed the stream."""
    ids = {process.stdout.fileno(): ID_STDOUT}
    if shell_protocol:
        ids[process.stderr.fileno()] = ID_STDERR
    chunk = stream.max_payload - (PACKET_HEADER.size if shell_protocol else 0)
    open_fds = set(ids)
    while open_fds:
        exited = process.poll() is not None  # before select: all it wrote is in the pipes by now
        ready, _, _ = select.select(list(open_fds), [], [], 0 if exited else POLL_S)
        if not ready and exited:
            return
        for fd in ready:
            data = os.read(fd, chunk)
            if not data:
                open_fds.discard(fd)
                continue
            packet = PACKET_HEADER.pack(ids[fd], len(data)) + data if shell_protocol else data
            if not stream.write(packet):
                _kill_group(process)
                return


def _feed_stdin(stream, process: subprocess.Popen, shell_protocol: bool) -> None:
    """The host's data to the command's stdin until close-stdin; a closed stream kills the command."""
    while True:
        if shell_protocol:
            header = stream.read_exactly(PACKET_HEADER.size)
            packet_id, length = PACKET_HEADER.unpack(header) if header else (None, 0)
            data = stream.read_exactly(length) if header and length else b""
            if header and data is None:
                header = None
        else:
            data = stream.read()
            header, packet_id = data, ID_STDIN
        if header is None:
            if process.poll() is None:
                _kill_group(process)
            return
        if packet_id == ID_STDIN and data:
            try:
                process.stdin.write(data)
                process.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
        elif packet_id == ID_CLOSE_STDIN:
            _close_quietly(process.stdin)


def _close_quietly(pipe) -> None:
    try:
        pipe.close()
    except BrokenPipeError:
        pass


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
