"""`--target rpi4`: the VWW int8 model on an emulated Raspberry Pi 4 (arm64 Debian under qemu-user, CPU pinned to
Cortex-A72), and the same board reached over SSH through a real OpenSSH server on 127.0.0.1."""
import json
import shutil

import pytest

from mnd.targets.transport.emulated import shell_launcher
from tests.conftest import run_mnd, skip_or_fail
from tests.ssh_server import free_port, missing_tools, ssh_server

pytestmark = [pytest.mark.emulator, pytest.mark.assets, pytest.mark.slow]
SAMPLES = 24
BOARD_FLAGS = ("--eval-samples", SAMPLES, "--runs", 3, "--warmup", 1, "--threads", "1,2")


def _export(assets, out, *extra):
    return run_mnd("export", "--target", "rpi4", "--model", assets / "mlperf_vww" / "vww_96_int8.tflite",
                   "--eval", assets / "vww_dev", "--out", out, *BOARD_FLAGS, *extra, timeout=1800)


@pytest.fixture(scope="session")
def emulated_run(assets, arm64_rootfs, tmp_path_factory):
    out = tmp_path_factory.mktemp("rpi4") / "run"
    result = _export(assets, out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, json.loads((out / "manifest.json").read_text()), result.stderr


@pytest.fixture(scope="session")
def board_server(arm64_rootfs, tmp_path_factory):
    reason = missing_tools()
    if reason:
        skip_or_fail(reason)
    with ssh_server(tmp_path_factory.mktemp("sshd"), shell_launcher(arm64_rootfs, "cortex-a72")) as server:
        yield server


def _rows(manifest) -> dict:
    return {(m["runtime"], m["artifact"], m["threads"]): m for m in manifest["measurements"]}


def test_rpi4_emulated_rows_run_on_aarch64_and_match_the_host_bit_for_bit(emulated_run):
    out, manifest, _ = emulated_run
    rows = _rows(manifest)
    assert set(rows) == {("litert", "tflite_int8", 1), ("litert", "tflite_int8", 2), ("litert-ref", "tflite_int8", 1),
                         ("onnxruntime", "onnx_int8", 1), ("onnxruntime", "onnx_int8", 2),
                         ("mnd-c", "tflite_int8", 1)}
    assert all(m["emulated"] and m["target"] == "rpi4" and m["n"] == SAMPLES for m in rows.values())
    assert all(m["runs"] == 3 and m["latency_ms"]["p50"] > 0 for m in rows.values())
    board = manifest["target"]["board"]
    assert board["machine"] == "aarch64" and board["qemu_cpu"] == "cortex-a72"
    assert board["packages"]["ai_edge_litert"] and board["python"].startswith("3.")
    checks = {v["name"]: v for v in manifest["validations"]}
    for name in ("rpi4 mnd-c vs host litert-ref", "rpi4 litert-ref vs host litert-ref"):
        assert checks[name]["passed"] and checks[name]["value"] == 0 and checks[name]["gated"], checks[name]
    assert not checks["rpi4 litert tflite_int8 vs host litert-ref top-1"]["gated"]
    host_ref = rows[("litert-ref", "tflite_int8", 1)]["accuracy"]
    assert rows[("mnd-c", "tflite_int8", 1)]["accuracy"] == host_ref
    assert rows[("litert", "tflite_int8", 1)]["agreement"]["reference"] == "host litert-ref"
    assert (out / "rpi4" / "mnd-c").is_file() and (out / "rpi4" / "Makefile").is_file()


def test_rpi4_emulated_report_warns_that_latency_is_not_the_boards(emulated_run):
    out, _, stderr = emulated_run
    report = (out / "report.md").read_text()
    assert "### `rpi4` (emulated)" in report and "QEMU_CPU=cortex-a72" in report
    assert "latency says nothing about the board" in report and "says nothing about the board" in stderr
    assert "| tflite_int8 | mnd C engine (static executable) |" in report


def test_rpi4_over_ssh_equals_the_emulated_board(assets, emulated_run, board_server, tmp_path):
    _, emulated, _ = emulated_run
    out = tmp_path / "ssh run"
    result = _export(assets, out, "--ssh", board_server.host_alias, "--ssh-config", board_server.config)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["options"]["ssh"] == "testboard"
    assert manifest["target"]["board"]["machine"] == "aarch64"
    over_ssh, local = _rows(manifest), _rows(emulated)
    assert set(over_ssh) == set(local)
    for key, row in over_ssh.items():
        assert row["accuracy"] == local[key]["accuracy"], key
    assert all(v["passed"] for v in manifest["validations"] if v["name"].startswith("rpi4 "))


def test_rpi4_ssh_unknown_host_key_is_refused_with_the_fix_and_leaves_nothing(assets, board_server, tmp_path):
    out = tmp_path / "refused"
    result = _export(assets, out, "--ssh", board_server.host_alias, "--ssh-config", board_server.config_unknown_host)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert len(errors) == 1 and "--accept-new-host-key" in errors[0], result.stderr[-2000:]
    assert not out.exists()


def test_board_options_on_a_board_less_target_are_refused_at_once(tmp_path):
    result = run_mnd("export", "--target", "host", "--ssh", "pi@raspberrypi", "--out", tmp_path / "x")
    assert result.returncode == 2 and "--ssh do not apply to host" in result.stderr
    result = run_mnd("export", "--target", "rpi4", "--ssh=-oProxyCommand=x", "--out", tmp_path / "y")
    assert result.returncode == 2 and "starting with '-'" in result.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_rpi4_board_without_python_gets_the_install_command_and_the_run_is_untouched(emulated_run, tmp_path):
    source, _, _ = emulated_run
    run = tmp_path / "run"
    shutil.copytree(source, run)
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    result = run_mnd("measure", run, "--target", "rpi4", "--remote-python", "/opt/no such/python3", timeout=600)
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-2000:]
    assert "does not run there" in errors[0] and "python3 -m venv" in errors[0] and "--setup" in errors[0]
    assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before


# Connections a board makes before its first work item's run: the device check, make_workdir, the runner, the
# facts, find_python, the --probe, the files, then the item's job.json; the next one (the item's run) fails.
DIES_IN_ITS_FIRST_ITEM = 8


def _several_boards_config(server, path, flaky: dict):
    """The test sshd's client config and more Host spellings of the same sshd and emulated board: `testboard-b`
    (another destination), `dead` (a closed port), and each `flaky` name, reached through a ProxyCommand (ssh -W)
    that refuses every connection after the first N (its value): a board that drops out mid-run."""
    base = server.config.read_text()
    host = lambda name, extra="": base.replace(f"Host {server.host_alias}", f"Host {name}{extra}", 1)  # noqa: E731
    text = base + host(f"{server.host_alias}-b") + host("dead").replace(f"Port {server.port}", f"Port {free_port()}")
    for name, connections in flaky.items():
        proxy, count = path.with_name(f"{name}_proxy.sh"), path.with_name(f"{name}_connections")
        proxy.write_text(f'#!/bin/sh\nn=$(cat "{count}" 2>/dev/null || echo 0)\necho $((n + 1)) > "{count}"\n'
                         f'[ "$n" -lt {connections} ] || exit 1\n'
                         f'exec ssh -F "{path}" -W 127.0.0.1:{server.port} {server.host_alias}\n')
        text += host(name, f"\n  ProxyCommand /bin/sh {proxy}")
    path.write_text(text)
    return path


def _measure_on(run, config, *boards):
    ssh = [word for board in boards for word in ("--ssh", board)]
    return run_mnd("measure", run, "--target", "rpi4", *ssh, "--ssh-config", config, "--threads", "1", "--runs", 1,
                   "--warmup", 0, timeout=900)


@pytest.mark.boards
def test_rpi4_on_several_boards_every_row_once_naming_its_board_and_dropped_boards_work_moves(
        emulated_run, board_server, tmp_path):
    """Four destinations, one sshd: two healthy spellings share the work; `dead` never answers; `flaky` drops out
    while it runs its first work item, which moves to a healthy board."""
    config = _several_boards_config(board_server, tmp_path / "ssh_config", {"flaky": DIES_IN_ITS_FIRST_ITEM})
    run = tmp_path / "run"
    shutil.copytree(emulated_run[0], run)
    boards = ["dead", "flaky", "testboard", "testboard-b"]
    result = _measure_on(run, config, *boards)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest, stderr = json.loads((run / "manifest.json").read_text()), result.stderr
    assert manifest["target"]["options"]["ssh_boards"] == boards
    measured = [m for m in manifest["measurements"] if m["threads"] == 1]  # the export's 2-thread rows are kept
    assert all(m["board"] is None for m in manifest["measurements"] if m["threads"] != 1)
    keys = [(m["runtime"], m["artifact"], m["threads"]) for m in measured]
    expected = {key: row for key, row in _rows(emulated_run[1]).items() if key[2] == 1}
    assert sorted(keys) == sorted(expected)  # every row exactly once
    assert all(m["accuracy"] == expected[key]["accuracy"] for key, m in zip(keys, measured))
    assert all(m["board"] in ("testboard", "testboard-b") for m in measured)
    shares = {share["ssh"]: share for share in manifest["target"]["board"]["boards"]}
    assert list(shares) == boards
    assert sorted(row for share in shares.values() for row in share["rows"]) == sorted(
        f"{runtime}-{kind}-t1" if runtime != "mnd-c" else "mnd-c" for runtime, kind, _ in keys)
    for name in ("testboard", "testboard-b"):
        assert shares[name]["dropped"] is None and shares[name]["facts"]["machine"] == "aarch64"
        assert {m["board"] for m in measured if m["board"] == name} <= {name}
        assert len(shares[name]["rows"]) == sum(m["board"] == name for m in measured)
    assert shares["dead"]["rows"] == [] and "refused the connection" in shares["dead"]["dropped"]
    assert "warning: rpi4: board dead does not answer: ssh: dead refused the connection" in stderr, stderr[-2000:]
    assert "warning: rpi4: board dead dropped out: ssh: dead refused the connection" in stderr
    assert shares["flaky"]["rows"] == [] and "lost the connection to flaky" in shares["flaky"]["dropped"]
    assert "warning: rpi4: board flaky dropped out: ssh: lost the connection to flaky" in stderr
    assert "its work item moves to another board" in stderr  # flaky died while it ran an item
    report = (run / "report.md").read_text()
    assert "- board `flaky`: 0 rows; dropped out: ssh: lost the connection to flaky" in report
    assert all(f"| emulated (QEMU cortex-a72): {m['board']} |" in report for m in measured)


@pytest.mark.boards
def test_rpi4_every_board_gone_fails_with_one_line_and_the_run_untouched(emulated_run, board_server, tmp_path):
    config = _several_boards_config(board_server, tmp_path / "ssh_config", {"flaky": 1})
    run = tmp_path / "run"
    shutil.copytree(emulated_run[0], run)
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    dropped = _measure_on(run, config, "flaky", "dead")  # flaky answers the device check, then drops out
    refused = _measure_on(run, config, "dead", "flaky")  # now neither answers the check
    for result, line in ((dropped, "mnd: error: rpi4: every board dropped out with 4 work item(s) left (flaky: ssh: "
                                   "lost the connection to flaky"),
                         (refused, "mnd: error: rpi4: none of the 2 --ssh boards answers (the first: ssh: dead "
                                   "refused the connection")):
        errors = [text for text in result.stderr.splitlines() if text.startswith("mnd: error:")]
        assert result.returncode != 0 and len(errors) == 1 and errors[0].startswith(line), result.stderr[-2000:]
    assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before
