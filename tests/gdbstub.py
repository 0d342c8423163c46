"""QEMU's own gdbstub as the GDB server a board's probe would be (--probe tests): the core's machine started with no
program and halted (-S), listening on a free local port."""
import contextlib
import socket
import subprocess
import time

import pytest


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


@contextlib.contextmanager
def gdbstub(machine: str):
    """The port of a fresh qemu-system-arm -machine `machine`, killed on exit."""
    port = free_port()
    qemu = subprocess.Popen(["qemu-system-arm", "-machine", machine, "-nographic", "-monitor", "none", "-serial",
                             "none", "-gdb", f"tcp:127.0.0.1:{port}", "-S"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if qemu.poll() is not None or time.monotonic() > deadline:
                    qemu.kill()
                    pytest.fail(f"qemu-system-arm's gdbstub did not start: {qemu.stdout.read().decode(errors='replace')}")
                time.sleep(0.05)
        yield port
    finally:
        qemu.kill()
        qemu.wait()
