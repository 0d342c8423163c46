"""`mnd sweep --executor ray --address A`: whether a Ray cluster answers at A, asked before anything is written.

Ray's own connection to an address where nothing listens, or where something that is not Ray listens, retries for
minutes (the GCS client, then the cluster ID) or half a minute (Ray Client). So the port Ray would dial is first
tried with one short TCP connect and an HTTP/2 greeting: both Ray's GCS and Ray Client are gRPC servers, which
answer a client's connection preface with a SETTINGS frame (RFC 9113 section 3.4). Then one cheap call (the GCS's
cluster ID, or Ray Client's ping) with the token ray.init would send tells whether the cluster wants Ray's token
authentication (on by default from Ray 2.59 for clusters `ray start` makes) and this machine lacks the token, which
Ray too would only report after its retries. A cluster whose gRPC is behind TLS (RAY_USE_TLS) is only connected to;
its errors are left to ray.init."""
import os
import socket

from mnd.base.errors import UsageError

CLIENT_PORT = 10001  # Ray Client's default port, for ray://HOST
CONNECT_SECONDS = 5.0
CLIENT_SCHEME = "ray://"
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS_FRAME = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # length 0, type SETTINGS, no flags, stream 0
FRAME_HEADER_BYTES = 9
SETTINGS_TYPE = 4


def no_cluster(address: str, reason: str) -> str:
    """The one line for a cluster that does not answer at --address."""
    return (f"no Ray cluster answers at --address {address} ({reason}): start one with `ray start --head` and pass "
            "--address auto (or the address it prints), or drop --address to start a local Ray for this sweep")


def check_cluster_answers(address: str, seconds: float = CONNECT_SECONDS) -> None:
    """Raises UsageError (one line naming the fix) unless a gRPC server answers where ray.init would connect for
    `address` (auto, HOST:PORT or ray://HOST[:PORT]) and does not refuse the token ray.init would send."""
    host, port = dialed_endpoint(address)
    try:
        with socket.create_connection((host, port), timeout=seconds) as connection:
            if _tls_wanted():
                return
            problem = grpc_problem(connection, seconds)
            if problem:
                raise UsageError(no_cluster(address, f"{host}:{port} answers but is not Ray: {problem}"))
    except socket.timeout:
        raise UsageError(no_cluster(address, f"{host}:{port} did not answer within {seconds:g} s")) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(no_cluster(address, f"{host}:{port}: {reason.lower()}")) from None
    problem = token_problem(address, host, port, seconds)
    if problem:
        raise UsageError(f"the Ray cluster at --address {address} {problem}")


def token_problem(address: str, host: str, port: int, seconds: float) -> str | None:
    """What is wrong with this machine's Ray token when the cluster refuses a call that carries the token ray.init
    would send (none unless RAY_AUTH_MODE=token, or `auto` finding a token here); None when it is accepted, and when
    the call fails otherwise (that is left to ray.init)."""
    import grpc

    sent = _token_metadata(address)
    if sent is None:
        return None
    with grpc.insecure_channel(f"[{host}]:{port}" if ":" in host else f"{host}:{port}") as channel:
        try:
            _ping(channel, _address_used(address).startswith(CLIENT_SCHEME), sent, seconds)
        except ImportError:  # Ray's generated stubs moved: left to ray.init
            return None
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAUTHENTICATED:
                return None
            if sent:
                return ("refused this machine's token: set RAY_AUTH_TOKEN (or ~/.ray/auth_token) to the cluster's, "
                        "which `ray get-auth-token` prints on its head")
            return ("wants a token (Ray's token authentication): set RAY_AUTH_MODE=token here and RAY_AUTH_TOKEN to "
                    "the cluster's token, which `ray get-auth-token` prints on its head (or copy its ~/.ray/auth_token)")
    return None


def _token_metadata(address: str):
    """The authorization metadata ray.init would send, () for none; None where it cannot be told (Ray's private
    token loader moved) or where Ray itself turns tokens on (`auto` with a token on this machine)."""
    try:
        from ray._private.authentication.grpc_authentication_client_interceptor import (
            _get_authentication_metadata_tuple)
        from ray._raylet import AuthenticationTokenLoader

        if address == "auto" and "RAY_AUTH_MODE" not in os.environ and \
                AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True):
            return None
        return tuple(_get_authentication_metadata_tuple())
    except (ImportError, AttributeError, TypeError):
        return None


def _ping(channel, client: bool, metadata: tuple, seconds: float) -> None:
    """Ray Client's ClusterInfo ping, or the GCS's GetClusterId: each answers anyone holding the cluster's token."""
    if client:
        from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc

        request = ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING)
        ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(request, timeout=seconds, metadata=metadata)
    else:
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=seconds, metadata=metadata)


def grpc_problem(connection: socket.socket, seconds: float) -> str | None:
    """None when the peer answers HTTP/2's connection preface with a SETTINGS frame, as every gRPC server does;
    else what it did instead."""
    connection.settimeout(seconds)
    reply = b""
    try:
        connection.sendall(HTTP2_PREFACE + EMPTY_SETTINGS_FRAME)
        while len(reply) < FRAME_HEADER_BYTES and (chunk := connection.recv(FRAME_HEADER_BYTES - len(reply))):
            reply += chunk
    except socket.timeout:
        if not reply:
            return f"it says nothing to a gRPC client within {seconds:g} s"
    except OSError as error:
        return f"it dropped a gRPC client's greeting ({(error.strerror or type(error).__name__).lower()})"
    if len(reply) == FRAME_HEADER_BYTES and reply[3] == SETTINGS_TYPE:
        return None
    if not reply:
        return "it closed the connection at a gRPC client's greeting"
    shown = reply.decode("ascii", "replace").split("\n")[0].strip()
    return f"it does not speak gRPC (its answer began {shown!r})" if shown.isprintable() and shown else \
        "it does not speak gRPC"


def _tls_wanted() -> bool:
    return os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true")


def dialed_endpoint(address: str) -> tuple:
    """(host, port) that ray.init dials for `address`: auto as Ray finds it (RAY_ADDRESS, then the cluster of the
    last `ray start` here, then a GCS running here), localhost as Ray resolves it."""
    address_used = _address_used(address)
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


def _address_used(address: str) -> str:
    return os.environ["RAY_ADDRESS"] if address == "auto" and os.environ.get("RAY_ADDRESS") else address


def _host_port(address: str, text: str, default_port: int | None) -> tuple:
    host, colon, port = text.rstrip("/").rpartition(":")
    if not colon:
        host, port = text.rstrip("/"), ""
    host = host.strip("[]")
    if not port and default_port is not None:
        port = str(default_port)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--address {address or repr(address)} is no Ray cluster address: give auto, HOST:PORT (the head's GCS "
                         "port, 6379 by default) or ray://HOST:PORT (Ray Client, 10001 by default)")
    return host, int(port)
