"""Every registered target honours the Target contract and shows up in the CLI."""
import json
import subprocess
import sys

import pytest

from mnd.pipeline.manifest import ARTIFACT_KINDS
from mnd.targets.base import NO_DEVICE, READY, READY_EMULATED, UNAVAILABLE, Target
from mnd.targets.registry import UnknownTarget, get_target, target_names

NAMES = target_names()
STATUSES = (READY, READY_EMULATED, NO_DEVICE, UNAVAILABLE)


@pytest.mark.parametrize("name", NAMES)
def test_target_contract(name):
    target = get_target(name)
    assert isinstance(target, Target) and target.name == name and target.description
    assert target.requires and set(target.requires) <= set(ARTIFACT_KINDS)
    reason = target.check()
    assert reason is None or (isinstance(reason, str) and reason)


@pytest.mark.parametrize("name", NAMES)
def test_target_listed_by_cli(mnd, name):
    rows = json.loads(mnd("targets", "--json", check=0).stdout)
    row = next(r for r in rows if r["name"] == name)
    readiness = get_target(name).readiness()
    assert (row["status"], row["available"], row["reason"]) == (readiness.status, readiness.ready, readiness.reason)
    assert row["status"] in STATUSES and (row["status"] == UNAVAILABLE) == (get_target(name).check() is not None)
    assert row["requires"] == list(get_target(name).requires)


def test_host_is_available_here():
    assert get_target("host").check() is None


def test_unknown_target_suggests_closest(mnd, tmp_path):
    with pytest.raises(UnknownTarget, match="did you mean 'host'"):
        get_target("hots")
    result = mnd("export", "--target", "hots", "--out", tmp_path / "x")
    assert result.returncode != 0 and "did you mean 'host'" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args", [["--target", "nope"], ["--target", "host", "--out", "."]])
def test_target_and_out_errors_come_before_tensorflow_starts(tmp_path, args):
    """A mistyped --target or a bad --out answers at once: one line, exit 2 (tests/cli/test_heavy_imports.py: with
    no heavy library imported)."""
    result = subprocess.run([sys.executable, "-m", "mnd.pipeline.cli", "export", *args],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
