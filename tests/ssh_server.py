"""A real OpenSSH server on 127.0.0.1 for tests: `with ssh_server(tmp_path) as server:` starts /usr/sbin/sshd
with a fresh ed25519 host key and one authorized client key, and writes a client ssh_config that reaches it as
Host `testboard` (run `ssh -F server.config testboard CMD`). Needs root and the openssh-server package; the
caller skips when `missing_tools()` names something."""
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
PRIVILEGE_SEPARATION_DIR = Path("/run/sshd")
HOST_ALIAS = "testboard"
START_TIMEOUT_S = 10


@dataclass(frozen=True)
class SshServer:
    port: int
    config: Path  # Host testboard, the server's key in its known_hosts
    config_unknown_host: Path  # the same with an empty known_hosts: the first connection meets an unknown key
    identity: Path  # the client's private key, authorized on the server
    host_public_key: str  # "ssh-ed25519 AAAA..."
    host_alias: str = HOST_ALIAS

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public_key}"

    def write_client_config(self, path: Path, known_hosts: Path, *, with_identity: bool = True) -> Path:
        """A client config at `path` for Host testboard trusting only what `known_hosts` holds (created empty when
        missing); without the authorized identity when `with_identity` is False."""
        known_hosts.touch(exist_ok=True)
        lines = [f"Host {self.host_alias}", "  HostName 127.0.0.1", f"  Port {self.port}", "  User root",
                 f'  UserKnownHostsFile "{known_hosts}"', "  GlobalKnownHostsFile /dev/null",
                 "  UpdateHostKeys no", "  IdentitiesOnly yes"]
        if with_identity:
            lines.append(f'  IdentityFile "{self.identity}"')
        path.write_text("\n".join(lines) + "\n")
        return path


def missing_tools() -> str | None:
    """Why no server can be started here, or None."""
    if not SSHD.is_file():
        return f"{SSHD} not found (apt-get install openssh-server)"
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install openssh-client)"
    if os.geteuid() != 0:
        return "the test sshd needs root (it logs in as root and needs /run/sshd)"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def ssh_server(workdir: Path, force_command_prefix: list[str] | None = None):
    """Starts sshd on a free port and yields an SshServer; sshd (and what it started) is stopped on exit.
    With `force_command_prefix`, every command a client sends runs as `PREFIX... /bin/sh -c COMMAND`."""
    workdir = Path(workdir).resolve()
    if any(char.isspace() or char in '"%' for char in str(workdir)):
        raise ValueError(f"{workdir}: sshd_config paths here must not hold spaces, quotes or '%'")
    workdir.mkdir(parents=True, exist_ok=True)
    PRIVILEGE_SEPARATION_DIR.mkdir(mode=0o755, exist_ok=True)
    host_key, identity = workdir / "ssh_host_ed25519_key", workdir / "client_ed25519"
    for key in (host_key, identity):
        key.unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key.name, "-f", str(key)], check=True)
    (workdir / "authorized_keys").write_text(identity.with_suffix(".pub").read_text())
    host_public_key = " ".join(host_key.with_suffix(".pub").read_text().split()[:2])
    force_command = _write_force_command(workdir, force_command_prefix) if force_command_prefix else None
    process, port = _start_sshd(workdir, host_key, force_command)
    try:
        server = SshServer(port, workdir / "ssh_config", workdir / "ssh_config_unknown_host", identity,
                           host_public_key)
        (workdir / "known_hosts").write_text(server.known_hosts_line + "\n")
        server.write_client_config(server.config, workdir / "known_hosts")
        (workdir / "known_hosts_empty").write_text("")
        server.write_client_config(server.config_unknown_host, workdir / "known_hosts_empty")
        yield server
    finally:
        _stop(process)


def _write_force_command(workdir: Path, prefix: list[str]) -> Path:
    script = workdir / "force_command.sh"
    script.write_text(f'#!/bin/sh\nexec {shlex.join(prefix)} /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')
    script.chmod(0o755)
    return script


def _start_sshd(workdir: Path, host_key: Path, force_command: Path | None) -> tuple[subprocess.Popen, int]:
    """sshd -D on a free port, once it answers with its SSH banner; a few ports are tried should another
    process take the free one first."""
    for _attempt in range(3):
        port = free_port()
        config = workdir / "sshd_config"
        config.write_text(_sshd_config(workdir, port, host_key, force_command))
        log = workdir / "sshd.log"
        with log.open("ab") as log_file:
            process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                       stdout=log_file, stderr=log_file, start_new_session=True)
        if _wait_for_banner(process, port):
            return process, port
        _stop(process)
    raise RuntimeError(f"sshd did not start on 127.0.0.1; its log:\n{log.read_text()[-3000:]}")


def _sshd_config(workdir: Path, port: int, host_key: Path, force_command: Path | None) -> str:
    lines = [f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {workdir / 'sshd.pid'}",
             f"AuthorizedKeysFile {workdir / 'authorized_keys'}", "PermitRootLogin prohibit-password",
             "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
             "StrictModes no", "UsePAM no", "PrintMotd no", "PrintLastLog no", "UseDNS no", "MaxStartups 50",
             "LogLevel VERBOSE"]
    if force_command is not None:
        lines.append(f"ForceCommand {force_command}")
    return "\n".join(lines) + "\n"


def _wait_for_banner(process: subprocess.Popen, port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                if connection.recv(64).startswith(b"SSH-2.0-OpenSSH"):
                    return process.poll() is None
        except OSError:
            time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to sshd's process group, SIGKILL when it lingers."""
    for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
