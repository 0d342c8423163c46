"""The cheap export that the hostile-input tests edit copies of (registered by tests/conftest.py's pytest_plugins)."""
import pytest

from mnd.targets.registry import get_target
from tests.conftest import built_once, run_mnd

FAST = ("--runs", "1", "--warmup", "0")


def _export(base) -> None:
    base.mkdir(parents=True)
    target = "host" if get_target("cortex-m4").check() else "cortex-m4"
    run_mnd("export", "--train-epochs", "0", "--allow-drift", "--target", target, "--out", base / "run",
            "--eval-samples", "20", *FAST, env={"MND_CACHE": str(base / "cache")}, check=0)


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> tuple:
    """(export run, training run): one cheap cortex-m4 export (host measurements re-run on it), and the cached
    training run it was exported from, built once per test run; tests edit copies, never these."""
    base = built_once(tmp_path_factory, "untrusted-export", _export)
    (training,) = [path for path in (base / "cache").iterdir() if path.is_dir()]  # not the lock file
    return base / "run", training
