"""The one table of what the targets need from Debian: need -> tools -> packages. Targets name their needs
(Target.needs); `mnd doctor`, `mnd targets` and the targets' checks say what is missing from it, and the Makefile
reads it by running this file (`python3 targets/toolchain.py packages demo`): standard library only, no mnd import.
"""
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tool:
    name: str     # a command looked up on PATH, or an absolute path (a library folder or file)
    package: str  # the Debian package that installs it
    purpose: str
    also_at: str | None = None  # where the command is when its folder is not on PATH (/usr/sbin for non-root users)

    def path(self) -> str | None:
        """Where it is here, or None when missing."""
        if self.name.startswith("/"):
            return self.name if Path(self.name).exists() else None
        return shutil.which(self.name) or (self.also_at if self.also_at and Path(self.also_at).exists() else None)


AARCH64_CROSS = (
    Tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu", "mnd-c, the C engine as a static arm64 executable"),
    Tool("/usr/aarch64-linux-gnu/lib/libc.a", "libc6-dev-arm64-cross", "the static arm64 C library mnd-c links"),
)
NEEDS = {
    "cortex-m": (
        Tool("qemu-system-arm", "qemu-system-arm", "Cortex-M emulation"),
        Tool("arm-none-eabi-gcc", "gcc-arm-none-eabi", "Cortex-M firmware builds"),
        # binutils-arm-none-eabi, which gcc-arm-none-eabi depends on, installs these two
        Tool("arm-none-eabi-size", "gcc-arm-none-eabi", "firmware flash and RAM sizes"),
        Tool("arm-none-eabi-nm", "gcc-arm-none-eabi", "firmware symbol addresses"),
        Tool("/usr/lib/arm-none-eabi/newlib", "libnewlib-arm-none-eabi", "the firmware's C library (newlib)"),
        Tool("gcc", "gcc", "host C compiler: the QEMU instruction-count plugin"),
    ),
    # --probe gdb://HOST:PORT: a real board behind a GDB server (the firmware builds need "cortex-m" too)
    "cortex-m-probe": (Tool("gdb-multiarch", "gdb-multiarch", "Cortex-M boards through a GDB server (--probe)"),),
    # The tflm-cmsis-nn runtime (--tflm-source): TFLite-Micro is C++, built into a static library.
    "tflm": (
        Tool("arm-none-eabi-g++", "gcc-arm-none-eabi", "TFLite-Micro builds (C++) for the tflm-cmsis-nn runtime"),
        Tool("arm-none-eabi-ar", "gcc-arm-none-eabi", "the TFLite-Micro static library"),
        Tool("/usr/include/newlib/c++", "libstdc++-arm-none-eabi-dev", "TFLite-Micro's C++ standard headers"),
    ),
    "arm64-emulated": (
        Tool("debootstrap", "debootstrap", "emulated arm64 board: its root filesystem", "/usr/sbin/debootstrap"),
        Tool("qemu-aarch64-static", "qemu-user-static", "emulated arm64 board: running arm64 code here"),
        *AARCH64_CROSS,
    ),
    "arm64-ssh": (Tool("ssh", "openssh-client", "Raspberry Pi / arm64 board over SSH (--ssh)"), *AARCH64_CROSS),
    "android": (Tool("adb", "adb", "Android phone over adb"), *AARCH64_CROSS),
    # Not a target's: what `make test` needs besides (a real sshd for the SSH transport, the docker/ image without a
    # Docker engine, a browser that prints report.html).
    "test-suite": (
        Tool("/usr/sbin/sshd", "openssh-server", "tests: the SSH transport against a real OpenSSH server"),
        Tool("buildah", "buildah", "building the docker/ image without a Docker engine"),
        Tool("podman", "podman", "tests: running the docker/ image"),
        Tool("runc", "runc", "tests: podman's container runtime", "/usr/sbin/runc"),
        Tool("chromium", "chromium", "tests: report.html printed by a browser"),
    ),
}
DEMO = ("cortex-m",)  # `make demo`: the host and cortex-m4 targets (the host needs nothing from Debian)
SETS = {"demo": DEMO, "all": tuple(NEEDS)}


def tools(needs) -> list:
    """The tools of `needs` (names in NEEDS), each once, in table order."""
    seen = {}
    for need in needs:
        for tool in NEEDS[need]:
            seen.setdefault(tool.name, tool)
    return list(seen.values())


def packages(needs) -> list:
    return list(dict.fromkeys(tool.package for tool in tools(needs)))


def missing_tools(needs) -> list:
    return [tool for tool in tools(needs) if tool.path() is None]


def missing_packages(needs) -> list:
    return list(dict.fromkeys(tool.package for tool in missing_tools(needs)))


def install_command(package_names) -> str:
    return "sudo apt-get install " + " ".join(package_names)


def install_hint(name: str) -> str:
    """The command that installs the tool `name` (a command or path in the table)."""
    return install_command([next(tool.package for tool in tools(NEEDS) if tool.name == name)])


def needs_row(name: str, needs) -> dict:
    """What `needs` takes from Debian, what of it is missing here, and the one command that installs that."""
    missing = missing_packages(needs)
    return {"name": name, "needs": list(needs), "packages": packages(needs), "missing_packages": missing,
            "install": install_command(missing) if missing else None}


def problem(needs) -> str | None:
    """None when every tool of `needs` is here; else which are missing and the one command that installs them."""
    missing = missing_tools(needs)
    if not missing:
        return None
    names = ", ".join(tool.name for tool in missing)
    return f"{names} not found — {install_command(missing_packages(needs))} (or use the docker/ image)"


def _main(argv) -> int:
    """`packages SET` / `missing SET` (SET: demo, all or a need): the Debian packages, one per line."""
    if len(argv) != 2 or argv[0] not in ("packages", "missing") or argv[1] not in {*SETS, *NEEDS}:
        sys.stderr.write(f"usage: toolchain.py packages|missing {'|'.join([*SETS, *NEEDS])}\n")
        return 2
    needs = SETS.get(argv[1], (argv[1],))
    print("\n".join(packages(needs) if argv[0] == "packages" else missing_packages(needs)))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
