"""`mnd sweep --executor ray --address A` where no Ray cluster answers: one line naming the fix at once (Ray's own
retries would wait for minutes), exit 2, nothing written."""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from tests.conftest import run_mnd

GRID = ("--cost-only", "--target", "cortex-m4", "--alpha", "0.25", "--resolution", "32", "--classes", "10",
        "--channels", "1")
FIX = ("start one with `ray start --head` and pass --address auto (or the address it prints), or drop --address "
       "to start a local Ray for this sweep")


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens: one the kernel just gave out, closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_where_nothing_listens_is_refused_in_one_line_at_once(tmp_path, scheme):
    address = f"{scheme}127.0.0.1:{closed_port()}"
    out = tmp_path / "never"
    start = time.monotonic()
    result = run_mnd("sweep", *GRID, "--executor", "ray", "--address", address, "--out", out, timeout=120)
    seconds = time.monotonic() - start
    assert result.returncode == 2, result.stderr[-3000:]
    [line] = result.stderr.splitlines()
    assert line.startswith(f"mnd: error: no Ray cluster answers at --address {address} (") and line.endswith(FIX)
    assert "connection refused" in line
    assert not out.exists() and seconds < 60  # Ray's GCS client alone waits 35 s before its first error


def test_auto_with_ray_address_set_dials_that_address(tmp_path):
    address = f"127.0.0.1:{closed_port()}"
    result = run_mnd("sweep", *GRID, "--executor", "ray", "--address", "auto", "--out", tmp_path / "never",
                     env={"RAY_ADDRESS": address}, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("mnd: error: no Ray cluster answers at --address "
                                                               "auto ("), result.stderr[-3000:]
    assert not (tmp_path / "never").exists()


def test_a_grpc_server_passes_what_is_not_grpc_is_refused_and_a_malformed_address_names_the_forms():
    """Ray's GCS and Ray Client are gRPC servers: one (grpcio, which Ray brings) passes the check; a port that says
    nothing, one that greets like sshd and one that hangs up are each refused in the one line, within seconds."""
    import grpc

    from mnd.base.errors import UsageError
    from mnd.pipeline.sweep.ray_address import check_cluster_answers

    server = grpc.server(ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("0.0.0.0:0")  # Ray dials HOST:PORT at 127.0.0.1 on this node's own address
    server.start()
    try:
        check_cluster_answers(f"ray://127.0.0.1:{port}")
        check_cluster_answers(f"127.0.0.1:{port}")
    finally:
        server.stop(None)
    for greeting, said in ((None, "it says nothing to a gRPC client within 1 s"),
                           (b"SSH-2.0-OpenSSH_9.2\r\n", "it does not speak gRPC (its answer began 'SSH-2.0-O')"),
                           (b"", "it closed the connection at a gRPC client's greeting")):
        with _listening(greeting) as other_port:
            address = f"ray://127.0.0.1:{other_port}"
            start = time.monotonic()
            with pytest.raises(UsageError) as refused:
                check_cluster_answers(address, seconds=1)
            assert time.monotonic() - start < 10
            assert str(refused.value) == (f"no Ray cluster answers at --address {address} (127.0.0.1:{other_port} "
                                          f"answers but is not Ray: {said}): {FIX}")
    for malformed in ("nohost", "host:port", "ray://", "127.0.0.1:70000"):
        with pytest.raises(UsageError, match=r"is no Ray cluster address: give auto, HOST:PORT"):
            check_cluster_answers(malformed)


@contextmanager
def _listening(greeting: bytes | None):
    """A port of 127.0.0.1 whose one connection gets `greeting` and is then closed (None: held open, silent)."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()

        def serve():
            connection, _ = listening.accept()
            with connection:
                connection.recv(1 << 16)  # read first: a close with unread data would be a reset, not a hang-up
                if greeting is None:
                    time.sleep(3)
                else:
                    connection.sendall(greeting)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield listening.getsockname()[1]
        thread.join(timeout=10)
