import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.arm64_fixtures", "tests.android.fixtures"]

REPO = Path(__file__).resolve().parents[1]
MND = Path(sys.executable).parent / "mnd"


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


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A real 30-epoch mobilenet_v1_025_32 training run on digits, shared by the export tests."""
    out = tmp_path_factory.mktemp("digits") / "run"
    run_mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--epochs", "30", "--out", out, check=0)
    return out
