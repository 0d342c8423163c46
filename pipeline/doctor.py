"""`mnd doctor`: which tools and packages are here, which are missing, and how to install them."""
import os
import subprocess
from pathlib import Path

from mnd.pipeline.cache_usage import cache_usage, format_usage
from mnd.pipeline.environment import cpu_facts, package_versions
from mnd.targets import toolchain

VERSION_FLAGS = {"ssh": "-V", "adb": "version"}  # OpenSSH prints its version with -V, adb with a subcommand
# Set by docker/Dockerfile: the file listing the image's apt packages as name=version lines (dpkg-query).
IMAGE_APT_PACKAGES = "MND_IMAGE_APT_PACKAGES"
TEST_SUITE = "test-suite"
# Inside the image these are the host's business: the test suite's tools (buildah builds the image) and binfmt_misc,
# the host kernel's registration, which a container cannot see.
HOST_SIDE = (*(tool.name for tool in toolchain.NEEDS[TEST_SUITE]), "binfmt qemu-aarch64")


def image_apt_packages() -> dict | None:
    """{package: version} when running inside the docker/ image, else None."""
    path = os.environ.get(IMAGE_APT_PACKAGES)
    if not path:
        return None
    try:
        lines = Path(path).read_text().split()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _version(executable: str) -> str | None:
    flag = VERSION_FLAGS.get(Path(executable).name, "--version")
    try:
        output = subprocess.run([executable, flag], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (output.stdout or output.stderr).strip().splitlines()
    return text[0][:120] if text else None


def _tool_row(tool: toolchain.Tool) -> dict:
    path = tool.path()
    version = _version(path) if path and not tool.name.startswith("/") else None  # a library folder has none
    return {"name": tool.name, "purpose": tool.purpose, "package": tool.package, "found": path is not None,
            "path": path, "version": version, "install": None if path else toolchain.install_command([tool.package])}


def targets_needs(include_tests: bool = True) -> list:
    """toolchain.needs_row per registered target, and for the test suite (`make test`) when `include_tests`."""
    from mnd.targets.registry import get_target, target_names

    rows = [toolchain.needs_row(name, get_target(name).needs) for name in target_names()]
    return rows + [toolchain.needs_row("make test", (TEST_SUITE,))] if include_tests else rows


def diagnose() -> dict:
    image = image_apt_packages()
    tools = [_tool_row(tool) for tool in toolchain.tools(toolchain.NEEDS)]
    from mnd.targets.linux_arm64.rootfs import binfmt_ready

    arm64 = binfmt_ready()
    tools.append({"name": "binfmt qemu-aarch64", "purpose": "emulated arm64 board: arm64 programs in a chroot",
                  "found": arm64 is None, "path": None, "version": "registered (flag F)" if arm64 is None else None,
                  "install": arm64})
    if image is not None:  # kept where visible after all (a privileged container that mounted binfmt_misc)
        tools = [tool for tool in tools if tool["name"] not in HOST_SIDE or tool["found"]]
    packages = package_versions()
    missing_packages = [name for name, version in packages.items() if version is None]
    needs = targets_needs(include_tests=image is None)
    missing_debian = list(dict.fromkeys(package for row in needs for package in row["missing_packages"]))
    return {"packages": packages, "missing_packages": missing_packages, "tools": tools, "targets": needs,
            "install_debian": toolchain.install_command(missing_debian) if missing_debian else None,
            "cpu": cpu_facts(), "cache": cache_usage(),
            "install_packages": "make test (creates .venv with the pinned packages)" if missing_packages else None,
            "image_apt_packages": image}


def format_report(report: dict) -> str:
    lines = ["packages:"]
    for name, version in report["packages"].items():
        lines.append(f"  {name:<18} {version or 'MISSING'}")
    lines.append("tools:")
    for tool in report["tools"]:
        state = tool["version"] or "found" if tool["found"] else f"missing — install: {tool['install']}"
        lines.append(f"  {tool['name']:<22} {state}   ({tool['purpose']})")
    lines.append("Debian packages per target:")
    for row in report["targets"]:
        state = f"missing, install with: {row['install']}" if row["install"] \
            else "ready" if row["packages"] else "nothing from Debian"
        lines.append(f"  {row['name']:<12} {state}")
    if report["install_debian"]:
        lines.append(f"everything missing, in one command: {report['install_debian']}")
    if report["image_apt_packages"] is not None:
        lines.append("image apt packages (the mnd docker image):")
        lines.extend(f"  {name:<26} {version}" for name, version in report["image_apt_packages"].items())
        unchecked = [name for name in HOST_SIDE if name not in {tool["name"] for tool in report["tools"]}]
        if unchecked:
            lines.append(f"  not checked inside the image (the host's business): {', '.join(unchecked)}")
    cpu = report["cpu"]
    lines.append(f"cpu: {cpu['cpu_model']} ({cpu['machine']}); ISA: {', '.join(cpu['isa_flags']) or 'unknown'}")
    lines.append(format_usage(report["cache"]))
    return "\n".join(lines)
