"""`mnd sweep --executor ray --address A` where no Ray cluster answers: one line naming the fix at once (Ray's own
retries would wait for minutes), exit 2, nothing written."""
import socket
import time

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


def test_an_address_where_something_listens_passes_and_a_malformed_one_names_the_forms():
    from mnd.pipeline.errors import UsageError
    from mnd.pipeline.sweep.ray_address import check_cluster_answers

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_cluster_answers(f"ray://127.0.0.1:{listening.getsockname()[1]}")
    for malformed in ("nohost", "host:port", "ray://", "127.0.0.1:70000"):
        with pytest.raises(UsageError, match=r"is no Ray cluster address: give auto, HOST:PORT"):
            check_cluster_answers(malformed)
