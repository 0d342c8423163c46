"""A board reached with the system OpenSSH client (`ssh`, run as a subprocess per operation): the user's
~/.ssh/config, agent, Host aliases and ProxyJump apply as usual. Files travel as tar archives over ssh's stdin and
stdout; remote commands run under coreutils `timeout` so a hung program is stopped on the board too."""
import math
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mnd.base.errors import TargetUnavailable
from mnd.base.shell_word import shell_word
from mnd.targets.toolchain import install_hint
from mnd.targets.transport.base import RemoteResult, RemoteTimeout, Transport, TransportError, run_in_own_group

KILL_GRACE_S = 5  # `timeout -k`: SIGKILL this long after the SIGTERM that a remote command ignored
LOCAL_GRACE_S = 30  # the local ssh is killed this long after the remote limit, should the board stop answering
CONTROL_TIMEOUT_S = 60  # mktemp, rm, beyond connecting
LOGIN_TIMEOUT_S = 10  # the check before any work: `true`, beyond connecting
TRANSFER_TIMEOUT_S = 3600  # push and pull; ServerAlive* notices a dead connection long before this
TIMED_OUT_STATUSES = (124, 128 + 9)  # coreutils timeout: the limit passed (TERM worked, or KILL was needed)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.$-]*")
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
IPV6_LITERAL = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?")


@dataclass(frozen=True)
class Destination:
    user: str | None
    host: str
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (f"{self.user}@" if self.user else "") + host + (f":{self.port}" if self.port else "")


def parse_destination(text: str) -> Destination:
    """`[user@]host[:port]`, an IPv6 literal in brackets (`[::1]:2222`); the host may be a Host alias of
    ~/.ssh/config. TransportError, one line, for anything else, a host starting with '-' above all (ssh would
    read it as an option)."""
    user, at, hostport = text.rpartition("@")
    if hostport.startswith("["):
        host, bracket, port_text = hostport[1:].partition("]")
        valid_host = bool(bracket) and IPV6_LITERAL.fullmatch(host) is not None
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
        port_text, valid_host = f":{port_text}", HOST_NAME.fullmatch(host) is not None
    else:
        host, port_text, valid_host = hostport, "", HOST_NAME.fullmatch(hostport) is not None
    usage = f"ssh destination {shell_word(text)}: expected [user@]host[:port] (an IPv6 address in brackets: [::1]:2222)"
    if host.startswith("-") or user.startswith("-"):
        raise TransportError(f"{usage}; a host or user starting with '-' is refused (ssh would take it as an option)")
    if not valid_host or (at and not USER.fullmatch(user)):
        raise TransportError(usage)
    port = None
    if port_text:
        digits = port_text.removeprefix(":")
        if not port_text.startswith(":") or not (digits.isascii() and digits.isdigit()) or not 0 < int(digits) < 65536:
            raise TransportError(f"{usage}; the port must be a number from 1 to 65535")
        port = int(digits)
    return Destination(user or None, host, port)


class SshTransport(Transport):
    """One board over ssh. StrictHostKeyChecking stays on (`accept_new_host_key` trusts a host seen for the first
    time, never a changed key); BatchMode means no password or passphrase prompt ever blocks a run. Host name,
    port and user are only passed when the destination names them, so the user's ssh config decides the rest."""

    def __init__(self, destination: str, *, identity: Path | None = None, config: Path | None = None,
                 accept_new_host_key: bool = False, connect_timeout: float = 10):
        self.destination = parse_destination(destination)
        for what, path in (("identity", identity), ("ssh config", config)):
            if path is not None and not Path(path).is_file():
                raise TransportError(f"ssh {what} file {path}: no such file")
        self.identity = Path(identity) if identity is not None else None
        self.config = Path(config) if config is not None else None
        self.accept_new_host_key = accept_new_host_key
        self.connect_timeout = max(1, math.ceil(connect_timeout))

    def describe(self) -> str:
        return f"ssh {self.destination}"

    def check_login(self, timeout: float = LOGIN_TIMEOUT_S) -> None:
        """Logs in and runs `true`: TransportError, one line naming the fix, when the board cannot be reached
        (unreachable, refused, no answer), refuses our keys, or its host key is unknown or changed."""
        self._checked("true", "log in and run `true`", timeout=timeout)

    def make_workdir(self) -> str:
        done = self._checked('mktemp -d "${TMPDIR:-/tmp}/mnd.XXXXXXXX"', "create a work directory")
        path = done.stdout.decode(errors="replace").strip()
        if not path.startswith("/") or "\n" in path:
            raise TransportError(f"{self._name()}: mktemp -d printed {path!r}, not a directory path")
        return path

    def remove_workdir(self, remote_dir: str) -> None:
        path = PurePosixPath(remote_dir)
        if not path.is_absolute() or ".." in path.parts or not path.name.startswith("mnd."):
            raise TransportError(f"{self._name()}: refusing to remove {remote_dir!r}: not a work directory of mnd")
        self._checked(f"rm -rf -- {shlex.quote(remote_dir)}", f"remove {remote_dir}")

    def push(self, files: list, remote_dir: str) -> None:
        """All files in one connection, as a tar archive: tar carries the names, so no shell ever reads them."""
        names = [Path(file).name for file in files]
        if len(set(names)) != len(names):
            raise TransportError(f"push to {self._name()}: two files share a name: {sorted(names)}")
        with tempfile.TemporaryFile() as archive:
            with tarfile.open(fileobj=archive, mode="w", dereference=True) as tar:
                for file in map(Path, files):
                    if not file.is_file():
                        raise TransportError(f"push to {self._name()}: {file} is not a file")
                    tar.add(file, arcname=file.name, recursive=False)
            archive.seek(0)
            self._checked(f"tar -x -f - -C {shlex.quote(remote_dir)}", f"copy {len(files)} file(s) to {remote_dir}",
                          stdin=archive, timeout=TRANSFER_TIMEOUT_S)

    def pull(self, remote_dir: str, names: list, local_dir: Path) -> None:
        """Relative names only; what comes back must be exactly those regular files (no links, no '..')."""
        wanted = [str(PurePosixPath(name)) for name in names]
        for name in wanted:
            if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts or name in ("", "."):
                raise TransportError(f"pull from {self._name()}: {name!r} is not a name inside the work directory")
        if not wanted:
            return
        remote = f"tar -c -f - -C {shlex.quote(remote_dir)} -- {shlex.join(wanted)}"
        with tempfile.TemporaryFile() as archive:
            self._checked(remote, f"copy {', '.join(wanted)} back from {remote_dir}", stdout=archive,
                          timeout=TRANSFER_TIMEOUT_S)
            archive.seek(0)
            _extract_exactly(archive, wanted, Path(local_dir), self._name())

    def run(self, argv: list, *, cwd: str, timeout: float, env: dict | None = None) -> RemoteResult:
        if not argv:
            raise TransportError(f"{self._name()}: nothing to run (an empty argv)")
        if not timeout > 0:
            raise TransportError(f"{self._name()}: a time limit must be positive, not {timeout}")
        assignments = []
        for name, value in (env or {}).items():
            if not ENV_NAME.fullmatch(name):
                raise TransportError(f"{self._name()}: {name!r} is not an environment variable name")
            assignments.append(f"{name}={value}")
        words = (["env", *assignments] if assignments else []) + ["timeout", "-k", str(KILL_GRACE_S), f"{timeout:.3f}"]
        command = f"cd -- {shlex.quote(cwd)} && exec {shlex.join([*words, *map(str, argv)])}"
        started = time.monotonic()
        done = self._ssh(command, timeout=timeout + LOCAL_GRACE_S, what=f"{argv[0]} (limit {timeout:g} s)")
        if done.returncode in TIMED_OUT_STATUSES and time.monotonic() - started >= timeout:
            raise RemoteTimeout(f"{self._name()}: {argv[0]} ran past its {timeout:g} s limit and was stopped")
        failure = ssh_failure(done.stderr, self) if done.returncode == 255 else None
        if failure:
            raise TransportError(failure)
        return RemoteResult(done.returncode, done.stdout, done.stderr)

    def ssh_argv(self, remote_command: str) -> list:
        """The full local command line that runs `remote_command` (one string, for the remote shell)."""
        ssh = shutil.which("ssh")
        if ssh is None:
            raise TargetUnavailable(f"ssh not found — {install_hint('ssh')}")
        checking = "accept-new" if self.accept_new_host_key else "yes"
        argv = [ssh, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", f"StrictHostKeyChecking={checking}", "-o", "ServerAliveInterval=15",
                "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR"]
        if self.config is not None:
            argv += ["-F", str(self.config)]
        if self.identity is not None:
            argv += ["-i", str(self.identity), "-o", "IdentitiesOnly=yes"]
        if self.destination.port is not None:
            argv += ["-p", str(self.destination.port)]
        if self.destination.user is not None:
            argv += ["-l", self.destination.user]
        return [*argv, "--", self.destination.host, remote_command]

    def _checked(self, remote_command: str, what: str, *, stdin=None, stdout=None,
                 timeout: float = CONTROL_TIMEOUT_S) -> subprocess.CompletedProcess:
        """A command of ours: any non-zero exit is a TransportError naming what failed."""
        done = self._ssh(remote_command, timeout=self.connect_timeout + timeout, what=what, stdin=stdin, stdout=stdout)
        if done.returncode != 0:
            failure = ssh_failure(done.stderr, self)
            if failure is None:
                lines = done.stderr.decode(errors="replace").strip().splitlines() or [""]
                failure = f"{self._name()}: could not {what} (exit {done.returncode}): {lines[0]}".rstrip(": ")
            raise TransportError(failure)
        return done

    def _ssh(self, remote_command: str, *, timeout: float, what: str, stdin=None,
             stdout=None) -> subprocess.CompletedProcess:
        """Runs ssh in its own process group, killed whole when `timeout` passes (RemoteTimeout) or on an
        exception such as KeyboardInterrupt."""
        return run_in_own_group(self.ssh_argv(remote_command), timeout=timeout, stdin=stdin, stdout=stdout,
                                timeout_message=f"{self._name()}: no answer within {timeout:g} s for {what}; "
                                                "the ssh connection was killed")

    def _name(self) -> str:
        return f"ssh {self.destination}"


def ssh_failure(stderr: bytes, transport: SshTransport) -> str | None:
    """One line for a failure of ssh itself (not of the remote command) found in its stderr, naming the fix;
    None when stderr holds none of ssh's own messages."""
    text = stderr.decode(errors="replace").replace("\r", "")
    destination = transport.destination
    host = destination.host
    where = f"{host} port {destination.port}" if destination.port else host
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        remove = re.search(r"^\s*(ssh-keygen .*-R .*)$", text, re.MULTILINE)
        fix = remove.group(1).strip() if remove else f"ssh-keygen -R {shlex.quote(host)}"
        return (f"ssh: {host}'s host key changed since it was accepted here (or someone is in between): "
                f"if the board was reinstalled, remove the old key with {fix}, then accept the new one")
    if "Host key verification failed" in text:
        accept = ["ssh", *(["-F", str(transport.config)] if transport.config else []),
                  *(["-p", str(destination.port)] if destination.port else []),
                  f"{destination.user}@{host}" if destination.user else host, "true"]
        return (f"ssh: {host}'s host key is not known here; check its fingerprint and accept it with: "
                f"{shlex.join(accept)} (answer yes), or pass --accept-new-host-key")
    user_at = f"{destination.user}@" if destination.user else ""
    copy_id = shlex.join(["ssh-copy-id", *(["-F", str(transport.config)] if transport.config else []),
                          *(["-p", str(destination.port)] if destination.port else []), user_at + host])
    explained = (  # (a line of ssh's, what it means; True: quote that line after it)
        (r"Could not resolve hostname",
         f"ssh: cannot resolve the host name {host}: check the spelling, or define it as a Host in ~/.ssh/config",
         False),
        (r"ssh: connect to host .*: Connection refused",
         f"ssh: {where} refused the connection: is sshd running on the board, and is the port right?", False),
        (r"ssh: connect to host .*: (Connection|Operation) timed out",
         f"ssh: no answer from {where} within {transport.connect_timeout} s: is the board on and on this network?",
         False),
        (r"ssh: connect to host .*: (No route to host|Network is unreachable)",
         f"ssh: {where} cannot be reached from here (no route): is the board on this network?", False),
        (r"Permission denied \(",
         f"ssh: {user_at}{host} refused our keys: pass --identity KEY, or install your public key with {copy_id}",
         False),
        (r"kex_exchange_identification|Connection (closed|reset) by|closed by remote host|not responding|"
         r"client_loop: send disconnect|Broken pipe", f"ssh: lost the connection to {where}:", True),
        (r"^ssh: |Can't open user config file|Bad configuration option|no argument after keyword|Load key .*: ",
         f"ssh {destination}:", True),
    )
    for pattern, message, quote_line in explained:
        found = re.search(f"^.*(?:{pattern}).*$", text, re.MULTILINE)
        if found:
            return f"{message} {found.group(0).strip()}" if quote_line else message
    return None


def _extract_exactly(archive, wanted: list, local_dir: Path, name: str) -> None:
    """Extracts the regular files named `wanted` from a tar stream into local_dir; anything else in it (a link,
    a device, an absolute or '..' name, an unasked-for name) is refused before anything is written."""
    with tarfile.open(fileobj=archive, mode="r:") as tar:
        members = tar.getmembers()
        for member in members:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or str(path) not in wanted or not member.isfile():
                kind = "a link" if member.issym() or member.islnk() else "not a regular file asked for"
                raise TransportError(f"pull from {name}: refusing {member.name!r} in the archive ({kind})")
        missing = sorted(set(wanted) - {str(PurePosixPath(member.name)) for member in members})
        if missing:
            raise TransportError(f"pull from {name}: {', '.join(missing)} not found on the board")
        local_dir.mkdir(parents=True, exist_ok=True)
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python 3.11.4 and later
        for member in members:
            tar.extract(member, local_dir, **safe)

