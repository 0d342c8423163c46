"""`mnd sweep --executor local|ray`: a process pool stopped by SIGTERM resumes without recomputing what finished,
Ray gives the same rows as the pool, a failing variant is recorded while the others finish, and without Ray the
command names the extra to install."""
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MND, run_mnd

pytestmark = [pytest.mark.slow, pytest.mark.emulator]
GRID = ("--cost-only", "--target", "cortex-m4", "--alpha", "0.25", "--resolution", "32,40,48,56",
        "--classes", "10", "--channels", "1")
NAMES = [f"mobilenet_v1_025_{side}" for side in (32, 40, 48, 56)]
HIDE_RAY = """
import sys
class HideRay:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, HideRay())
from mnd.pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def sorted_rows(folder: Path) -> list:
    """sweep.json's rows, each without its timing, as sorted JSON lines."""
    rows = json.loads((folder / "sweep.json").read_text())["rows"]
    return sorted(json.dumps({k: v for k, v in row.items() if k != "seconds"}, sort_keys=True) for row in rows)


def recorded(folder: Path) -> list:
    path = folder / "rows.jsonl"
    return [json.loads(line)["name"] for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def stopped_and_resumed(tmp_path_factory) -> tuple:
    """The grid on a pool of 2 workers, stopped by SIGTERM once its first variant is recorded, then run again with
    a file where the run directory of one variant not yet started goes; the folder is then renamed ROOT/local, so
    that the Ray sweep, in the same ROOT/sweep, meets the same failure with the same error line."""
    root = tmp_path_factory.mktemp("executors")
    out = root / "sweep"
    command = ("sweep", *GRID, "--jobs", "2", "--out", out)
    process = subprocess.Popen([str(MND), *map(str, command)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 600
    while not recorded(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    first = recorded(out)
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=300)[1]
    assert first and process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    # finished: recorded in rows.jsonl, or published (the worker's export ended before its row could be recorded)
    published = [name for name in NAMES if (out / "variants" / name / "manifest.json").is_file()]
    kept = {name: (out / "variants" / name / "manifest.json").stat().st_mtime_ns for name in published}
    assert set(first) <= set(kept) and len(kept) < 4, stderr[-3000:]
    blocked = [name for name in NAMES if name not in kept][-1]
    (out / "variants" / blocked).write_text("not a run directory")
    resumed = run_mnd(*command, check=1)
    out.rename(root / "local")
    return root, stderr, kept, blocked, resumed


def test_sigterm_keeps_finished_variants_and_the_same_command_finishes_the_rest(stopped_and_resumed):
    root, stopped, kept, blocked, resumed = stopped_and_resumed
    local = root / "local"
    assert "interrupted by SIGTERM" in stopped and "Traceback" not in stopped
    assert f"{len(kept)} of 4 variants finished earlier are kept" in resumed.stderr
    doc = json.loads((local / "sweep.json").read_text())
    assert [row["name"] for row in doc["rows"]] == NAMES and doc["executor"] == {"name": "local", "jobs": 2}
    for name, mtime in kept.items():
        assert (local / "variants" / name / "manifest.json").stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert sorted(path.name for path in (local / "variants").iterdir()) == NAMES, "staging folders left"


def test_a_failing_variant_is_recorded_and_the_others_finish(stopped_and_resumed):
    root, _, _, blocked, resumed = stopped_and_resumed
    rows = {row["name"]: row for row in json.loads((root / "local" / "sweep.json").read_text())["rows"]}
    assert {name: row["status"] for name, row in rows.items()} == {**dict.fromkeys(NAMES, "measured"),
                                                                   blocked: "failed"}
    assert rows[blocked]["error"].startswith("OutputError: ") and rows[blocked]["run_dir"] is None
    assert f"1 of 4 variants failed ({blocked})" in resumed.stderr


@pytest.mark.ray
def stopped_before_its_first_row(root: Path, out: Path, blocked: str) -> None:
    """`out` as a sweep of the pool's grid leaves it when stopped before its first row, with the pool's failure
    set up again."""
    started = json.loads((root / "local" / "sweep.json").read_text())
    (out / "variants").mkdir(parents=True)
    (out / "sweep.json").write_text(json.dumps({**started, "rows": []}))
    (out / "variants" / blocked).write_text("not a run directory")


def test_ray_gives_the_pools_rows(stopped_and_resumed):
    root, _, _, blocked, _ = stopped_and_resumed
    out = root / "sweep"
    stopped_before_its_first_row(root, out, blocked)
    result = run_mnd("sweep", *GRID, "--executor", "ray", "--out", out, check=1)
    assert sorted_rows(out) == sorted_rows(root / "local"), result.stderr[-3000:]
    executor = json.loads((out / "sweep.json").read_text())["executor"]
    assert executor["name"] == "ray" and executor["ray_version"] == "2.60.0"
    assert executor["cluster"] == "local, started for this sweep" and ":" in executor["address"]


@pytest.mark.ray
def test_a_two_node_cluster_started_outside_mnd_wants_its_token_then_gives_the_pools_rows(stopped_and_resumed):
    """`ray start` head and second node (tests/ray_cluster.py), token authentication on: without the token the
    sweep is refused in one line before Ray's retries; with it, `--address HOST:PORT` runs the grid's first two
    variants (one a node) and gives the pool's rows for them; and a driver that does not see the folder the nodes
    write to (no shared storage) warns that its variant's run directory is not on its machine."""
    from tests.ray_cluster import two_node_cluster

    root = stopped_and_resumed[0]
    refused, out = root / "refused", root / "cluster"
    grid = with_sides("32,40")
    with two_node_cluster() as cluster:
        start = time.monotonic()
        result = run_mnd("sweep", *grid, "--executor", "ray", "--address", cluster.address, "--out", refused,
                         env={"RAY_AUTH_MODE": "disabled"}, check=2)
        assert time.monotonic() - start < 60 and not refused.exists()
        assert result.stderr.splitlines() == [
            f"mnd: error: the Ray cluster at --address {cluster.address} wants a token (Ray's token authentication): "
            "set RAY_AUTH_MODE=token here and RAY_AUTH_TOKEN to the cluster's token, which `ray get-auth-token` "
            "prints on its head (or copy its ~/.ray/auth_token)"]
        result = run_mnd("sweep", *grid, "--executor", "ray", "--address", cluster.address, "--out", out,
                         env=cluster.token_env, check=0)
        unshared = _sweep_from_a_private_mount(root / "unshared", cluster, with_sides("32"))
    assert unshared.returncode == 0, unshared.stderr[-3000:]
    assert (root / "unshared" / "sweep" / "variants" / NAMES[0] / "manifest.json").is_file()  # where the node wrote
    assert (f"mnd: warning: {NAMES[0]}: its run directory {root / 'unshared' / 'sweep' / 'variants' / NAMES[0]} is "
            "not on this machine: the node that ran it does not share the sweep folder") in unshared.stderr
    pool_rows = [row for row in sorted_rows(root / "local") if json.loads(row)["name"] in NAMES[:2]]
    assert sorted_rows(out) == pool_rows, result.stderr[-3000:]
    executor = json.loads((out / "sweep.json").read_text())["executor"]
    assert executor["cluster"] == cluster.address and executor["address"].endswith(cluster.address.split(":")[1])


def with_sides(sides: str) -> list:
    """GRID with its --resolution list replaced."""
    at = GRID.index("--resolution") + 1
    return [*GRID[:at], sides, *GRID[at + 1:]]


def _sweep_from_a_private_mount(folder: Path, cluster, grid: list) -> subprocess.CompletedProcess:
    """The sweep's driver in a mount namespace of its own where `folder` is a fresh tmpfs: the cluster's nodes
    write the run directory to this machine's `folder`, which the driver does not see (no shared storage)."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed: the driver's private sweep folder")
    folder.mkdir()
    sweep = [str(MND), "sweep", *grid, "--executor", "ray", "--address", cluster.address, "--out", str(folder / "sweep")]
    command = f"mount -t tmpfs tmpfs {shlex.quote(str(folder))} && exec {shlex.join(sweep)}"
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
                          env={**os.environ, **cluster.token_env}, capture_output=True, text=True, timeout=600)


def test_ray_executor_without_ray_names_the_extra_in_one_line(tmp_path):
    out = tmp_path / "never"
    result = subprocess.run([sys.executable, "-c", HIDE_RAY, "sweep", *GRID, "--executor", "ray", "--out", str(out)],
                            capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == ["mnd: error: --executor ray needs Ray, which is not installed: pip install "
                                          "'mobilenet-deploy[ray]' (or --executor local)"]
    assert not out.exists()


def test_a_published_export_without_its_row_counts_as_finished_unless_an_artifact_changed(stopped_and_resumed,
                                                                                         tmp_path):
    """The driver stopped between a worker publishing variants/<name>/ and appending its row: the row is rebuilt
    from the manifest; a run directory whose artifact no longer matches its sha256 is no finished variant."""
    from mnd.pipeline.export.run import check_target
    from mnd.pipeline.sweep.finished import rows_from_manifests
    from mnd.pipeline.sweep.fits import target_limits
    from mnd.pipeline.sweep.grid import variants
    from mnd.targets.base import MeasureSettings

    root, _, _, blocked, _ = stopped_and_resumed
    rows = {(row["alpha"], row["resolution"]): row
            for row in json.loads((root / "local" / "sweep.json").read_text())["rows"]}
    grid = variants((0.25,), (32, 40, 48, 56), 10, 1)
    limits = target_limits(check_target("cortex-m4", MeasureSettings(), device=False), None, None)
    unrecorded = {key: row for key, row in rows.items() if key != grid[0].key}
    rebuilt = rows_from_manifests(root / "local", grid, unrecorded, limits, with_accuracy=False)
    assert rebuilt == [{**rows[grid[0].key], "seconds": None}]
    artifact = next((root / "local" / "variants" / grid[0].name).glob("*.tflite"))
    copy = tmp_path / "variants" / grid[0].name
    shutil.copytree(artifact.parent, copy)
    (copy / artifact.name).write_bytes(artifact.read_bytes()[:-1] + bytes([artifact.read_bytes()[-1] ^ 1]))
    assert rows_from_manifests(tmp_path, grid, unrecorded, limits, with_accuracy=False) == []
