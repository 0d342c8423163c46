"""`make demo` installs only what the demo uses, `make toolchain` (and so `make test`) everything: the Makefile's
apt-get step, run against a stand-in apt-get on a machine where every package is missing."""
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.unit.test_toolchain import CI_PACKAGES, DEMO_PACKAGES

if shutil.which("make") is None:
    pytest.skip("make not found", allow_module_level=True)


def make(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-C", str(REPO), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, check=True)


@pytest.fixture
def bare_machine(tmp_path) -> list:
    """make variables for a machine that lacks every package, with an apt-get that records its arguments."""
    bare = tmp_path / "toolchain-bare"  # `missing SET` answers every package of SET
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} {REPO}/targets/toolchain.py packages "$2"\n')
    apt = tmp_path / "apt-get"
    apt.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/apt-calls\n')
    for script in (bare, apt):
        script.chmod(0o755)
    return [f"TOOLCHAIN={bare}", f"APT_GET={apt}", "SUDO="]


def installed(tmp_path) -> list:
    calls = (tmp_path / "apt-calls").read_text().splitlines()
    assert calls[0] == "update -qq" and calls[1].startswith("install -y -qq ")
    return calls[1].removeprefix("install -y -qq ").split()


def test_print_demo_packages():
    assert make("print-demo-packages").stdout.splitlines() == DEMO_PACKAGES


def test_demo_installs_only_the_demo_packages(bare_machine, tmp_path):
    make("demo-toolchain", *bare_machine)
    assert installed(tmp_path) == DEMO_PACKAGES
    plan = make("-n", "demo").stdout  # the dry run: demo's toolchain step is that one, without binfmt_misc
    assert "toolchain.py missing demo" in plan and "missing all" not in plan and "binfmt" not in plan


def test_toolchain_installs_everything_ci_needs(tmp_path):
    plan = make("-n", "toolchain", "PYTHON=" + sys.executable).stdout
    assert "toolchain.py missing all" in plan and "qemu-aarch64" in plan
    packages = subprocess.run([sys.executable, REPO / "targets" / "toolchain.py", "packages", "all"],
                              capture_output=True, text=True, check=True).stdout.split()
    assert set(packages) >= CI_PACKAGES
