import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.arm64_fixtures", "tests.android.fixtures", "tests.mobilenet_runs", "tests.untrusted_runs",
                  "tests.tour_runs"]

REPO = Path(__file__).resolve().parents[1]
MND = Path(sys.executable).parent / "mnd"
# The README tour's training line, without its --out: digits_run runs it, and the tour walk reuses that run.
DIGITS_TRAINING = ("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--epochs", "30")


def tools_required() -> bool:
    return os.environ.get("MND_REQUIRE_TOOLS") == "1"


def skip_or_fail(reason: str):
    """Skip for a missing tool or asset, except under MND_REQUIRE_TOOLS=1 (CI), where it fails."""
    if tools_required():
        pytest.fail(f"MND_REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def assets() -> Path:
    path = Path(os.environ.get("MND_ASSETS", REPO.parent / "shared" / "assets"))
    if not path.is_dir():
        skip_or_fail(f"test assets not found at {path} (set MND_ASSETS)")
    return path


def run_mnd(*args, cwd=None, timeout=900, check=None, env=None):
    """Run the installed `mnd` console script; returns CompletedProcess with text output."""
    result = subprocess.run([str(MND), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if check is not None and result.returncode != check:
        raise AssertionError(f"mnd {' '.join(map(str, args))} exited {result.returncode}, expected {check}\n"
                             f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
    return result


@pytest.fixture
def mnd():
    return run_mnd


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(path)` run once for the whole test run, shared by every pytest-xdist worker (each worker has its own
    session): the first to ask builds it under a lock, the others wait and reuse it. Users must not modify it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's base temporary directory, above every worker's own
    path, done = root / "shared" / name, root / "shared" / f"{name}.done"
    path.parent.mkdir(exist_ok=True)
    with open(root / "shared" / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)  # what a failed build in another worker left
            build(path)
            done.touch()
    return path


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A real 30-epoch mobilenet_v1_025_32 training run on digits, shared by the export tests."""
    return built_once(tmp_path_factory, "digits-run", lambda out: run_mnd(*DIGITS_TRAINING, "--out", out, check=0))


# Under pytest-xdist (`make test` runs two workers, a file per worker at a time) the longest files should start first,
# or one of them, started last, keeps one worker busy alone at the end. Measured longest first: the container image
# build (~8 minutes cold), the emulators, the CLI exports. Order inside a folder and inside a file is kept.
LONGEST_FIRST = ("container", "emulator", "cli", "hostile", "assets", "packaging", "contract", "unit")


def pytest_collection_modifyitems(items):
    def folder_rank(item) -> int:
        folder = Path(item.path).parent.name
        return LONGEST_FIRST.index(folder) if folder in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=folder_rank)
