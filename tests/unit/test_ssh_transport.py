"""SshTransport against a real OpenSSH server on 127.0.0.1 (tests/ssh_server.py): names and arguments with
spaces and quotes survive, failures of ssh are one line naming the fix, a hung command is stopped on the board."""
import hashlib
import secrets
import subprocess
import time

import pytest

from mnd.base.errors import TargetUnavailable
from mnd.targets.transport.base import RemoteTimeout, TransportError
from mnd.targets.transport.ssh import Destination, SshTransport, parse_destination
from tests.conftest import skip_or_fail
from tests.ssh_server import free_port, missing_tools, ssh_server

QUOTED_NAME = 'it\'s a "test".bin'
QUOTED_DIR = "dir with 'single' and \"double\" quotes"
AWKWARD_ARGS = [QUOTED_NAME, "two  spaces", "$HOME", "`id`", "; rm -rf /", "*", "", "back\\slash", "line\nbreak",
                "-n", "--"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    reason = missing_tools()
    if reason:
        skip_or_fail(reason)
    with ssh_server(tmp_path_factory.mktemp("sshd")) as running:
        yield running


@pytest.fixture
def transport(server):
    return SshTransport(server.host_alias, config=server.config)


def _other_key(tmp_path):
    key = tmp_path / "other_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def test_ssh_round_trip_keeps_names_and_arguments_with_spaces_and_quotes(transport, tmp_path):
    payload = tmp_path / QUOTED_NAME
    payload.write_bytes(secrets.token_bytes(100_000))
    script = tmp_path / "run me.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o755)
    with transport.workdir() as workdir:
        assert transport.run(["stat", "-c", "%a", workdir], cwd="/", timeout=10).stdout == b"700\n"
        assert transport.run(["mkdir", QUOTED_DIR], cwd=workdir, timeout=10).returncode == 0
        remote_dir = f"{workdir}/{QUOTED_DIR}"
        transport.push([payload, script], remote_dir)

        echoed = transport.run(["printf", "%s|", *AWKWARD_ARGS], cwd=remote_dir, timeout=10)
        assert echoed.stdout.decode() == "".join(f"{arg}|" for arg in AWKWARD_ARGS)
        assert transport.run(["./run me.sh"], cwd=remote_dir, timeout=10).stdout == b"ran\n"
        digest = transport.run(["sha256sum", "--", QUOTED_NAME], cwd=remote_dir, timeout=10).stdout.split()[0]
        assert digest.decode() == hashlib.sha256(payload.read_bytes()).hexdigest()
        assert transport.run(["cp", QUOTED_NAME, f"copy of {QUOTED_NAME}"], cwd=remote_dir, timeout=10).returncode == 0

        back = tmp_path / "back"
        transport.pull(remote_dir, [QUOTED_NAME, f"copy of {QUOTED_NAME}"], back)
        assert (back / QUOTED_NAME).read_bytes() == payload.read_bytes()
        assert (back / f"copy of {QUOTED_NAME}").read_bytes() == payload.read_bytes()
    assert transport.run(["test", "-e", workdir], cwd="/", timeout=10).returncode == 1


def test_ssh_run_adds_env_and_returns_nonzero_exits_including_255(transport):
    value = "a 'b' \"c\" $d `e`"
    shown = transport.run(["sh", "-c", 'printf %s "$MND_VALUE"'], cwd="/", timeout=10, env={"MND_VALUE": value})
    assert shown.stdout.decode() == value
    failed = transport.run(["sh", "-c", "echo oops >&2; exit 255"], cwd="/", timeout=10)
    assert (failed.returncode, failed.stderr) == (255, b"oops\n")
    with pytest.raises(TransportError, match="not an environment variable name"):
        transport.run(["true"], cwd="/", timeout=10, env={"A B": "x"})


def test_ssh_pull_refuses_missing_files_and_links(transport, tmp_path):
    with transport.workdir() as workdir:
        with pytest.raises(TransportError, match="no-such-file"):
            transport.pull(workdir, ["no-such-file"], tmp_path)
        transport.run(["ln", "-s", "/etc/passwd", "link"], cwd=workdir, timeout=10)
        with pytest.raises(TransportError, match="refusing 'link'.*a link"):
            transport.pull(workdir, ["link"], tmp_path)
        with pytest.raises(TransportError, match="not a name inside"):
            transport.pull(workdir, ["../etc/passwd"], tmp_path)
    assert not (tmp_path / "link").exists()


def test_ssh_remove_workdir_refuses_what_make_workdir_cannot_have_made(transport):
    for path in ("/", "/tmp", "relative/mnd.x", "/tmp/mnd.x/.."):
        with pytest.raises(TransportError, match="refusing to remove"):
            transport.remove_workdir(path)


def test_ssh_unknown_host_key_is_refused_naming_the_flag(server):
    with pytest.raises(TransportError) as refused:
        SshTransport(server.host_alias, config=server.config_unknown_host).make_workdir()
    message = str(refused.value)
    assert "host key is not known" in message and "--accept-new-host-key" in message and "\n" not in message


def test_ssh_accept_new_host_key_records_it_and_later_runs_check_it(server, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    config = server.write_client_config(tmp_path / "ssh_config", known_hosts)
    accepted = SshTransport(server.host_alias, config=config, accept_new_host_key=True).run(["true"], cwd="/",
                                                                                           timeout=10)
    assert (accepted.returncode, accepted.stderr) == (0, b"")
    assert server.host_public_key in known_hosts.read_text()
    assert SshTransport(server.host_alias, config=config).run(["true"], cwd="/", timeout=10).returncode == 0


def test_ssh_changed_host_key_is_refused_even_with_accept_new(server, tmp_path):
    impostor = _other_key(tmp_path).with_suffix(".pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{server.port} {' '.join(impostor)}\n")
    config = server.write_client_config(tmp_path / "ssh_config", known_hosts)
    with pytest.raises(TransportError) as refused:
        SshTransport(server.host_alias, config=config, accept_new_host_key=True).make_workdir()
    message = str(refused.value)
    assert "host key changed" in message and "ssh-keygen" in message and "-R" in message and "\n" not in message


def test_ssh_key_not_authorized_suggests_identity_and_ssh_copy_id(server, tmp_path):
    config = server.write_client_config(tmp_path / "ssh_config", server.config.parent / "known_hosts",
                                        with_identity=False)
    with pytest.raises(TransportError) as refused:
        SshTransport(server.host_alias, config=config, identity=_other_key(tmp_path)).make_workdir()
    assert "--identity" in str(refused.value) and "ssh-copy-id" in str(refused.value)


def test_ssh_connection_refused_is_one_clear_line_quickly(server):
    started = time.monotonic()
    with pytest.raises(TransportError) as refused:
        SshTransport(f"root@127.0.0.1:{free_port()}", config=server.config, connect_timeout=5).make_workdir()
    assert time.monotonic() - started < 15
    assert "refused the connection" in str(refused.value) and "\n" not in str(refused.value)


def test_ssh_hanging_command_times_out_and_is_stopped_on_the_board(transport):
    duration = f"600.{secrets.randbelow(10**9):09d}"  # unique on this machine: pgrep must not find another test's
    started = time.monotonic()
    with pytest.raises(RemoteTimeout, match="3 s limit"):
        transport.run(["sleep", duration], cwd="/", timeout=3)
    assert 3 <= time.monotonic() - started < 15
    deadline = time.monotonic() + 5
    while subprocess.run(["pgrep", "-f", f"sleep {duration}"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, f"sleep {duration} still runs on the board"
        time.sleep(0.1)


@pytest.mark.parametrize("text, expected", [
    ("raspberrypi", Destination(None, "raspberrypi", None)),
    ("pi@raspberrypi", Destination("pi", "raspberrypi", None)),
    ("root@10.0.0.2:2222", Destination("root", "10.0.0.2", 2222)),
    ("[::1]:2222", Destination(None, "::1", 2222)),
    ("me@[fe80::1%eth0]", Destination("me", "fe80::1%eth0", None)),
])
def test_ssh_destination_parsing(text, expected):
    assert parse_destination(text) == expected
    assert SshTransport(text).describe() == f"ssh {text}"


@pytest.mark.parametrize("text", ["-oProxyCommand=touch /tmp/x", "pi@-host", "-l@host", "", "pi@", "host:0",
                                  "host:65536", "host:ssh", "::1", "[::1", "a b", "host;id", "pi@host:22:33"])
def test_ssh_destination_refuses_what_ssh_could_misread(text):
    with pytest.raises(TransportError, match="expected \\[user@\\]host\\[:port\\]") as refused:
        SshTransport(text)
    if text.startswith("-") or "@-" in text:
        assert "starting with '-'" in str(refused.value)


def test_ssh_missing_client_is_target_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TargetUnavailable, match="apt-get install openssh-client"):
        SshTransport("board").make_workdir()


def test_ssh_server_force_command_prefix_wraps_every_command_keeping_its_quoting(tmp_path):
    if missing_tools():
        skip_or_fail(missing_tools())
    with ssh_server(tmp_path / "sshd", force_command_prefix=["env", "MND_WRAPPED=yes"]) as wrapped:
        transport = SshTransport(wrapped.host_alias, config=wrapped.config)
        with transport.workdir() as workdir:
            shown = transport.run(["sh", "-c", 'printf "%s|" "$MND_WRAPPED" "$@"', "sh", *AWKWARD_ARGS], cwd=workdir,
                                  timeout=10)
    assert shown.stdout.decode() == "".join(f"{arg}|" for arg in ["yes", *AWKWARD_ARGS])
