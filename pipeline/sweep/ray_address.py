"""`mnd sweep --executor ray --address A`: whether a Ray cluster answers at A, asked before anything is written.

Ray's own connection to an address where nothing listens retries for minutes (the GCS client, then the cluster
ID) or half a minute (Ray Client), so the port Ray would dial is first tried with one short TCP connect. A port
that answers but is not Ray is left to ray.init, whose error the executor turns into the same one line."""
import os
import socket

from mnd.pipeline.errors import UsageError

CLIENT_PORT = 10001  # Ray Client's default port, for ray://HOST
CONNECT_SECONDS = 5.0
CLIENT_SCHEME = "ray://"


def no_cluster(address: str, reason: str) -> str:
    """The one line for a cluster that does not answer at --address."""
    return (f"no Ray cluster answers at --address {address} ({reason}): start one with `ray start --head` and pass "
            "--address auto (or the address it prints), or drop --address to start a local Ray for this sweep")


def check_cluster_answers(address: str, seconds: float = CONNECT_SECONDS) -> None:
    """Raises UsageError (the line of no_cluster) unless something accepts a TCP connection where ray.init would
    connect for `address` (auto, HOST:PORT or ray://HOST[:PORT])."""
    host, port = dialed_endpoint(address)
    try:
        with socket.create_connection((host, port), timeout=seconds):
            pass
    except socket.timeout:
        raise UsageError(no_cluster(address, f"{host}:{port} did not answer within {seconds:g} s")) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(no_cluster(address, f"{host}:{port}: {reason.lower()}")) from None


def dialed_endpoint(address: str) -> tuple:
    """(host, port) that ray.init dials for `address`: auto as Ray finds it (RAY_ADDRESS, then the cluster of the
    last `ray start` here, then a GCS running here), localhost as Ray resolves it."""
    if address == "auto" and os.environ.get("RAY_ADDRESS"):
        address_used = os.environ["RAY_ADDRESS"]
    else:
        address_used = address
    if address_used.startswith(CLIENT_SCHEME):
        return _host_port(address, address_used[len(CLIENT_SCHEME):], CLIENT_PORT)
    from ray._private import services

    if address_used == "auto":
        try:
            address_used = services.canonicalize_bootstrap_address("auto") or ""
        except ConnectionError:
            raise UsageError(no_cluster(address, "none runs on this machine and RAY_ADDRESS is not set")) from None
    host, port = _host_port(address, address_used, None)
    return services.resolve_ip_for_localhost(host), port


def _host_port(address: str, text: str, default_port: int | None) -> tuple:
    host, colon, port = text.rstrip("/").rpartition(":")
    if not colon:
        host, port = text.rstrip("/"), ""
    host = host.strip("[]")
    if not port and default_port is not None:
        port = str(default_port)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--address {address} is no Ray cluster address: give auto, HOST:PORT (the head's GCS "
                         "port, 6379 by default) or ray://HOST:PORT (Ray Client, 10001 by default)")
    return host, int(port)
