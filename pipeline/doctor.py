"""`mnd doctor`: which tools and packages are here, which are missing, and how to install them."""
import os
import shutil
import subprocess
from pathlib import Path

from mnd.pipeline.environment import cpu_facts, package_versions

TOOLS = (
    ("gcc", "host C compiler (QEMU plugin, kernel tests)", "apt-get install -y gcc"),
    ("qemu-system-arm", "Cortex-M emulation", "make toolchain"),
    ("arm-none-eabi-gcc", "Cortex-M firmware builds", "make toolchain"),
    ("ssh", "Raspberry Pi / arm64 board over SSH (--ssh)", "apt-get install -y openssh-client"),
    ("aarch64-linux-gnu-gcc", "mnd-c for Raspberry Pi / arm64 boards (both modes)", "make toolchain"),
    ("debootstrap", "emulated arm64 board: its root filesystem", "make toolchain"),
    ("qemu-aarch64-static", "emulated arm64 board: running arm64 code here", "make toolchain"),
    ("adb", "Android target", "apt-get install -y adb"),
    ("buildah", "building the docker/ image without a Docker engine", "apt-get install -y buildah"),
)
VERSION_FLAGS = {"ssh": "-V", "adb": "version"}  # OpenSSH prints its version with -V, adb with a subcommand
# Set by docker/Dockerfile: the file listing the image's apt packages as name=version lines (dpkg-query).
IMAGE_APT_PACKAGES = "MND_IMAGE_APT_PACKAGES"
# Inside the image these are the host's business: buildah builds the image; binfmt_misc is the host kernel's
# registration, which a container cannot see.
HOST_SIDE = ("buildah", "binfmt qemu-aarch64")


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


def diagnose() -> dict:
    tools = []
    for name, purpose, install in TOOLS:
        path = shutil.which(name)
        tools.append({"name": name, "purpose": purpose, "found": path is not None, "path": path,
                      "version": _version(path) if path else None, "install": None if path else install})
    from mnd.targets.linux_arm64.rootfs import binfmt_ready

    arm64 = binfmt_ready()
    tools.append({"name": "binfmt qemu-aarch64", "purpose": "emulated arm64 board: arm64 programs in a chroot",
                  "found": arm64 is None, "path": None, "version": "registered (flag F)" if arm64 is None else None,
                  "install": arm64})
    image = image_apt_packages()
    if image is not None:  # kept where visible after all (a privileged container that mounted binfmt_misc)
        tools = [tool for tool in tools if tool["name"] not in HOST_SIDE or tool["found"]]
    packages = package_versions()
    missing_packages = [name for name, version in packages.items() if version is None]
    return {"packages": packages, "missing_packages": missing_packages, "tools": tools, "cpu": cpu_facts(),
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
    if report["image_apt_packages"] is not None:
        lines.append("image apt packages (the mnd docker image):")
        lines.extend(f"  {name:<26} {version}" for name, version in report["image_apt_packages"].items())
        unchecked = [name for name in HOST_SIDE if name not in {tool["name"] for tool in report["tools"]}]
        if unchecked:
            lines.append(f"  not checked inside the image (the host's business): {', '.join(unchecked)}")
    cpu = report["cpu"]
    lines.append(f"cpu: {cpu['cpu_model']} ({cpu['machine']}); ISA: {', '.join(cpu['isa_flags']) or 'unknown'}")
    return "\n".join(lines)
