"""The wheel as a user installs it: built from a clean clone, installed (not editable) into a fresh virtual
environment outside the checkout, run from another directory."""
import json
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def run(command, **kwargs):
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{command}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """sdist and wheel from a clone of the committed tree (what CI and users get, not this working tree)."""
    root = tmp_path_factory.mktemp("wheel")
    run(["git", "clone", "--quiet", REPO, root / "clone"])
    run([sys.executable, "-m", "build", "--outdir", root / "dist", root / "clone"])
    return root


@pytest.fixture(scope="module")
def fresh_venv(built):
    """A new venv holding only the wheel; the pinned dependencies come from this test's environment through a
    .pth path entry (paths listed in a .pth file are not site directories, so this checkout's editable finder
    stays out), which keeps the test from downloading TensorFlow again."""
    venv = built / "venv"
    run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv])
    python = venv / "bin" / "python"
    wheel = next((built / "dist").glob("*.whl"))
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", wheel])
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    (Path(purelib) / "mnd_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def test_sdist_and_wheel_are_built(built):
    names = [path.name for path in (built / "dist").iterdir()]
    assert len(names) == 2 and {name.rsplit(".", 2)[-1] for name in names} == {"gz", "whl"}, names


def test_wheel_has_one_top_level_package_and_every_source(built):
    entries = zipfile.ZipFile(next((built / "dist").glob("*.whl"))).namelist()
    assert {name.split("/")[0] for name in entries if ".dist-info/" not in name} == {"mnd"}
    clone = built / "clone"
    for stage in ("base", "pipeline", "quantize", "targets", "engine"):
        for source in (clone / stage).rglob("*"):
            if source.is_file() and "__pycache__" not in source.parts:
                assert f"mnd/{source.relative_to(clone)}" in entries, f"{source.relative_to(clone)} is not in the wheel"


def test_installed_wheel_imports_from_the_venv_and_its_requirements_hold(fresh_venv, tmp_path):
    python = fresh_venv / "bin" / "python"
    where = run([python, "-c", "import mnd.pipeline.cli, mnd.quantize.ptq, mnd.targets.cortex_m.target as t; "
                 "print(mnd.pipeline.cli.__file__, mnd.quantize.ptq.__file__, t.__file__)"], cwd=tmp_path).stdout.split()
    assert all(Path(path).is_relative_to(fresh_venv) for path in where), where
    run([python, "-m", "pip", "check"])
    assert "cortex-m4" in run([fresh_venv / "bin" / "mnd", "targets"], cwd=tmp_path).stdout


@pytest.mark.parametrize("target", ["host", "cortex-m4"])
def test_installed_wheel_exports_the_default(fresh_venv, tmp_path, target):
    out = tmp_path / "run"
    run([fresh_venv / "bin" / "mnd", "export", "--train-epochs", "0", "--allow-drift", "--target", target,
         "--out", out, "--runs", "2", "--warmup", "0", "--eval-samples", "20"], cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MND_CACHE": str(tmp_path / "cache")})
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["name"] == target and manifest["measurements"]
    assert all((out / artifact["path"]).is_file() for artifact in manifest["artifacts"])
