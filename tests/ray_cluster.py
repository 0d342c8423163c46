"""A Ray cluster as a team starts one, outside mnd: `ray start --head --block` and a second node
`ray start --address HEAD --block` on this machine, 1 CPU each, with Ray's token authentication on and a token of
its own (RAY_AUTH_TOKEN in the environment: ~/.ray is not read or written). Both are stopped on exit."""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ssh_server import free_port

START_SECONDS = 120
STOP_SECONDS = 60


@dataclass(frozen=True)
class RayCluster:
    address: str  # HOST:PORT of the head's GCS, as `--address` takes it
    client_address: str  # ray://HOST:PORT of its Ray Client server
    token_env: dict  # {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": ...}: what a machine needs to join or connect


@contextmanager
def two_node_cluster():
    ray = Path(sys.executable).with_name("ray")
    token_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = {**os.environ, **token_env}
    temp = tempfile.mkdtemp(prefix="mnd-ray-", dir="/tmp")  # Ray's socket paths must stay short
    port, client_port = free_port(), free_port()
    common = ("--block", "--num-cpus", "1", "--disable-usage-stats")
    started = []
    try:
        started.append(_start([ray, "start", "--head", "--port", port, "--ray-client-server-port", client_port,
                               "--include-dashboard", "false", "--temp-dir", temp, *common], env, Path(temp), "head"))
        address = f"127.0.0.1:{port}"
        _wait_for_port(port, started)
        started.append(_start([ray, "start", "--address", address, *common], env, Path(temp), "node"))
        _wait_for_nodes(ray, address, env, 2, started)
        yield RayCluster(address, f"ray://127.0.0.1:{client_port}", token_env)
    finally:
        for process in reversed(started):
            _stop(process)
        shutil.rmtree(temp, ignore_errors=True)


def _start(argv: list, env: dict, temp: Path, name: str) -> subprocess.Popen:
    """`argv` in its own process group, its output in TEMP/NAME.log (named by process.log_path)."""
    log_path = temp / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(list(map(str, argv)), env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = log_path
    return process


def _wait_for_port(port: int, started: list) -> None:
    """Until the head's GCS accepts connections on this machine's address (where Ray binds it)."""
    from ray._private.services import resolve_ip_for_localhost

    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and started[0].poll() is None:
        try:
            with socket.create_connection((resolve_ip_for_localhost("127.0.0.1"), port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the Ray head did not listen on {port}: {started[0].log_path.read_text()[-1500:]}")


def _wait_for_nodes(ray: Path, address: str, env: dict, count: int, started: list) -> None:
    """Until `ray status` lists `count` active nodes; RuntimeError with the logs' tails if a start fails."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        status = subprocess.run([str(ray), "status", "--address", address], env=env, capture_output=True,
                                text=True, timeout=60)
        active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
        if status.returncode == 0 and active.count(" node_") >= count:
            return
        ended = [process for process in started if process.poll() is not None]
        if ended or time.monotonic() > deadline:
            logs = "\n".join(f"{process.log_path.name}: {process.log_path.read_text()[-1500:]}" for process in started)
            raise RuntimeError(f"the Ray cluster did not start {count} node(s): {status.stderr[-1500:]}\n{logs}")
        time.sleep(1)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM: `ray start --block` drains and stops what it started; SIGKILL to the group if it does not."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
