"""targets/toolchain.py, the one table of what each target needs from Debian: its sets, what is missing, the one
install command, and its agreement with the targets, the Makefile's demo and the docker/ image."""
import re

import pytest

from mnd.targets import toolchain
from mnd.targets.registry import get_target, target_names
from tests.conftest import REPO

DEMO_PACKAGES = ["qemu-system-arm", "gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "gcc"]
# What `make toolchain` installed before the table (binutils-arm-none-eabi comes with gcc-arm-none-eabi): CI's
# clean machine must keep getting all of it.
CI_PACKAGES = {"qemu-system-arm", "gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "gcc", "qemu-user-static",
               "debootstrap", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "openssh-server", "openssh-client",
               "adb", "buildah", "podman", "runc", "chromium"}


def test_demo_needs_exactly_the_cortex_m_packages():
    assert toolchain.packages(toolchain.SETS["demo"]) == DEMO_PACKAGES


def test_all_keeps_everything_ci_installed():
    assert set(toolchain.packages(toolchain.SETS["all"])) >= CI_PACKAGES


def test_every_target_needs_names_the_table():
    for name in target_names():
        assert set(get_target(name).needs) <= set(toolchain.NEEDS), name


def test_demo_set_is_what_the_demo_targets_need():
    recipe = (REPO / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    demo_targets = set(re.findall(r"--target (\S+)", recipe))
    assert demo_targets == {"host", "cortex-m4"}
    assert {need for name in demo_targets for need in get_target(name).needs} == set(toolchain.DEMO)


def test_the_docker_image_installs_every_targets_packages():
    listed = re.search(r'packages="([^"]+)"', (REPO / "docker" / "Dockerfile").read_text()).group(1).split()
    needs = [need for need in toolchain.NEEDS if need != "test-suite"]
    assert set(toolchain.packages(needs)) <= set(listed)


@pytest.fixture
def bare_of(monkeypatch):
    """Pretend that the tools of these Debian packages are missing here."""
    def missing(*package_names):
        real = toolchain.Tool.path
        monkeypatch.setattr(toolchain.Tool, "path", lambda tool: None if tool.package in package_names else real(tool))
    return missing


def test_missing_packages_and_the_one_command(bare_of):
    bare_of("gcc-arm-none-eabi", "libnewlib-arm-none-eabi")
    row = toolchain.needs_row("cortex-m4", ("cortex-m",))
    assert row["missing_packages"] == ["gcc-arm-none-eabi", "libnewlib-arm-none-eabi"]
    assert row["install"] == "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
    problem = get_target("cortex-m4").check()
    assert "arm-none-eabi-gcc" in problem and row["install"] in problem
    assert get_target("host").check() is None


def test_a_board_is_available_while_one_way_to_reach_it_is(bare_of):
    bare_of("openssh-client")
    assert get_target("rpi4").check() is None or "binfmt" in get_target("rpi4").check()
    bare_of("openssh-client", "qemu-user-static")
    problem = get_target("rpi4").check()
    assert "sudo apt-get install qemu-user-static" in problem and "sudo apt-get install openssh-client" in problem


def test_the_makefile_reader_refuses_an_unknown_set(capsys):
    assert toolchain._main(["packages", "everything"]) == 2 and "usage:" in capsys.readouterr().err
    assert toolchain._main(["packages", "demo"]) == 0 and capsys.readouterr().out.split() == DEMO_PACKAGES


def test_install_hints_of_the_tools_mnd_looks_up_itself():
    hints = {name: toolchain.install_hint(name) for name in ("qemu-system-arm", "arm-none-eabi-gcc", "arm-none-eabi-nm",
                                                            "arm-none-eabi-size", "gcc", "ssh", "adb", "debootstrap")}
    assert hints["arm-none-eabi-nm"] == "sudo apt-get install gcc-arm-none-eabi"
    assert hints["ssh"] == "sudo apt-get install openssh-client" and hints["adb"] == "sudo apt-get install adb"
