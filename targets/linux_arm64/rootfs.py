"""A cached Debian arm64 root filesystem that runs on this x86 machine under qemu-user (binfmt_misc), with the
host venv's numpy, LiteRT and ONNX Runtime installed as aarch64 wheels, so host and emulated board match.

Layout of `<cache>/arm64-rootfs-<key>/` (cache: $MND_CACHE or ~/.cache/mnd; key: a short sha256 of the recipe):
`root/` the filesystem, `build.log` debootstrap's and pip's output. A build happens in a `.partial-<pid>` folder
beside it and is renamed into place at the end, under a lock file, so a half-built one never looks complete.
"""
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

from mnd.base.cache_folder import cache_dir
from mnd.base.errors import TargetUnavailable
from mnd.base.progress import phase
from mnd.targets.toolchain import install_hint

RECIPE_VERSION = 1
SUITE, VARIANT, MIRROR = "bookworm", "minbase", "http://deb.debian.org/debian"
PACKAGES = ("python3", "busybox-static")  # busybox: the test phone's /system/bin/sh (tests/android)
GUEST_PYTHON = "3.11"  # bookworm's python3
GUEST_SITE_PACKAGES = f"usr/local/lib/python{GUEST_PYTHON}/dist-packages"
WHEELS = ("numpy", "ai-edge-litert", "onnxruntime")  # and their dependencies, at the host venv's versions
WHEEL_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_17_aarch64",
                   "manylinux2014_aarch64")  # bookworm has glibc 2.36
GUEST_MARKERS = {"platform_machine": "aarch64", "sys_platform": "linux", "platform_system": "Linux",
                 "python_version": GUEST_PYTHON, "implementation_name": "cpython", "extra": ""}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
FIX = "run 'make toolchain' (installs debootstrap and qemu-user-static, mounts binfmt_misc, registers qemu-aarch64)"
LOG_TAIL_LINES = 15
BOARD_CORES = 4
# /proc/cpuinfo of the board each QEMU CPU stands for (the guest would otherwise read the host's x86 one, which
# LiteRT's cpuinfo library cannot parse): (Features, CPU variant, CPU part, CPU revision, Model).
CPUINFO = {
    "cortex-a72": ("fp asimd evtstrm crc32 cpuid", "0x0", "0xd08", "3", "Raspberry Pi 4 Model B Rev 1.4"),
    "cortex-a76": ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop "
                   "asimddp", "0x4", "0xd0b", "1", "Raspberry Pi 5 Model B Rev 1.0"),
}


def binfmt_ready() -> str | None:
    """None when qemu-aarch64 is registered with binfmt_misc, enabled, with the F flag (the interpreter is opened
    at registration, so a chroot needs no qemu inside); else the reason and the fix."""
    if not (BINFMT / "status").exists():
        return f"binfmt_misc is not mounted at {BINFMT}; {FIX}"
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists():
        return f"qemu-aarch64 is not registered with binfmt_misc; {FIX}"
    lines = entry.read_text().splitlines()
    if (BINFMT / "status").read_text().strip() != "enabled" or not lines or lines[0] != "enabled":
        return f"binfmt_misc's qemu-aarch64 entry is disabled; enable it with 'echo 1 > {entry}'"
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    if "F" not in flags:
        return (f"qemu-aarch64 is registered without the F flag (flags '{flags}'), so a chroot cannot find it; "
                f"'echo -1 > {entry}', then {FIX}")
    return None


def cpuinfo_text(qemu_cpu: str) -> str:
    features, variant, part, revision, model = CPUINFO[qemu_cpu]
    core = ("processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
            "CPU architecture: 8\nCPU variant\t: {variant}\nCPU part\t: {part}\nCPU revision\t: {revision}\n\n")
    cores = "".join(core.format(n=n, features=features, variant=variant, part=part, revision=revision)
                    for n in range(BOARD_CORES))
    return f"{cores}Model\t\t: {model}\n"


def cpuinfo_file(rootfs: Path, qemu_cpu: str) -> Path:
    """A file in the root filesystem holding the board's /proc/cpuinfo for `qemu_cpu` (one of CPUINFO), written
    when missing or stale; the transport binds it over the guest's /proc/cpuinfo."""
    path = rootfs / "usr/local/share/mnd" / f"cpuinfo-{qemu_cpu}"
    text = cpuinfo_text(qemu_cpu)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f"{path.name}.{os.getpid()}")
        staged.write_text(text)
        staged.replace(path)
    return path


def wheel_pins() -> list:
    """`name==version` for WHEELS and everything they need on the guest, at the versions installed here."""
    pins, todo = {}, list(WHEELS)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-").replace(".", "-")
        if key in pins:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise TargetUnavailable(f"{name} is not installed in this Python ({sys.executable}); "
                                    "install the project with 'make' first") from None
        pins[key] = f"{dist.metadata['Name']}=={dist.version}"
        for text in dist.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(GUEST_MARKERS):
                todo.append(requirement.name)
    return sorted(pins.values(), key=str.lower)


def recipe_key(pins: list) -> str:
    recipe = {"version": RECIPE_VERSION, "suite": SUITE, "variant": VARIANT, "packages": PACKAGES,
              "mirror": MIRROR, "wheels": pins}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def ensure_rootfs() -> Path:
    """The cached root filesystem's `root/` folder, built first when missing (about 3 minutes, once per recipe).
    TargetUnavailable (one line naming the fix) when debootstrap, root or binfmt_misc's qemu-aarch64 is missing, or
    when the build fails (with the log's last lines)."""
    reason = binfmt_ready()  # without it not even a cached root filesystem can run
    if reason:
        raise TargetUnavailable(reason)
    pins = wheel_pins()
    final = cache_dir() / f"arm64-rootfs-{recipe_key(pins)}"
    if (final / "root").is_dir():
        return final / "root"
    _check_build_tools()
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.with_name(final.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process building it: wait, then use what it built
        if not (final / "root").is_dir():
            _build(final, pins)
    return final / "root"


def _check_build_tools() -> None:
    if shutil.which("debootstrap") is None and not Path("/usr/sbin/debootstrap").exists():
        raise TargetUnavailable(f"debootstrap not found — {install_hint('debootstrap')}, or {FIX}")
    if os.geteuid() != 0:
        raise TargetUnavailable("building the arm64 root filesystem needs root (debootstrap chroots); "
                                "run once as root or with sudo")


def _build(final: Path, pins: list) -> None:
    for stale in final.parent.glob(final.name + ".partial-*"):  # left by an interrupted build; we hold the lock
        _remove_tree(stale)
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    root, log = partial / "root", partial / "build.log"
    failed_log = final.with_name(final.name + ".failed.log")
    root.mkdir(parents=True)
    try:
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
        with phase(f"building the arm64 {SUITE} root filesystem (debootstrap under qemu, about 3 minutes, once; "
                   f"log: {log})"):
            _logged([debootstrap, "--arch=arm64", f"--variant={VARIANT}", f"--include={','.join(PACKAGES)}",
                     SUITE, str(root), MIRROR], log, failed_log, "debootstrap")
        with phase(f"installing aarch64 wheels into the arm64 root filesystem: {' '.join(pins)}"):
            _logged([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile",
                     "--target", str(root / GUEST_SITE_PACKAGES), *(f"--platform={p}" for p in WHEEL_PLATFORMS),
                     f"--python-version={GUEST_PYTHON}", "--implementation=cp", "--only-binary=:all:", *pins],
                    log, failed_log, "pip install (aarch64 wheels)")
        shutil.rmtree(root / GUEST_SITE_PACKAGES / "bin", ignore_errors=True)  # host-python entry points
        partial.rename(final)
    except BaseException:
        if log.exists():
            shutil.copyfile(log, failed_log)
        _remove_tree(partial)
        raise


def _logged(argv: list, log: Path, failed_log: Path, what: str) -> None:
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-LOG_TAIL_LINES:])
        raise TargetUnavailable(f"{what} failed (exit {result.returncode}) building the arm64 root filesystem; "
                                f"full log {failed_log}; check the network to {MIRROR} and PyPI, then retry: {tail}")


def _remove_tree(path: Path) -> None:
    """rm -rf that first detaches anything a killed debootstrap left mounted inside (proc, sys, dev) and never
    crosses into another file system."""
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    inside = sorted((m for m in mounts if m.startswith(f"{path}/")), key=len, reverse=True)
    for mount in inside:
        subprocess.run(["umount", "--lazy", mount], stderr=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)
