"""`mnd doctor`: which tools and packages are here, which are missing, and how to install them."""
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
    packages = package_versions()
    missing_packages = [name for name, version in packages.items() if version is None]
    return {"packages": packages, "missing_packages": missing_packages, "tools": tools, "cpu": cpu_facts(),
            "install_packages": "make test (creates .venv with the pinned packages)" if missing_packages else None}


def format_report(report: dict) -> str:
    lines = ["packages:"]
    for name, version in report["packages"].items():
        lines.append(f"  {name:<18} {version or 'MISSING'}")
    lines.append("tools:")
    for tool in report["tools"]:
        state = tool["version"] or "found" if tool["found"] else f"missing — install: {tool['install']}"
        lines.append(f"  {tool['name']:<22} {state}   ({tool['purpose']})")
    cpu = report["cpu"]
    lines.append(f"cpu: {cpu['cpu_model']} ({cpu['machine']}); ISA: {', '.join(cpu['isa_flags']) or 'unknown'}")
    return "\n".join(lines)
