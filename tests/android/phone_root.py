"""The file system of the test phone: what tests/android/device.py chroots into for shell commands and serves
through sync. Its shell and tools are one static aarch64 busybox (run through binfmt_misc's qemu-aarch64), laid
out the way Android lays out toybox: /system/bin/<applet> -> busybox."""
import os
import shutil
import stat
from pathlib import Path

APPLETS = ("sh", "mktemp", "rm", "mkdir", "cat", "chmod", "timeout", "env", "echo", "uname", "ls", "tr",
           "sleep", "true", "printf")  # what mnd runs on a phone, and what the tests run
PROPERTIES = {  # what `getprop` answers; ro.kernel.qemu=1 is what the Android emulator says too: emulated
    "ro.product.model": "mnd test device",
    "ro.product.manufacturer": "mnd",
    "ro.soc.model": "qemu-aarch64",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.product.cpu.abi": "arm64-v8a",
    "ro.kernel.qemu": "1",
}


def getprop_script() -> str:
    """Android's getprop: `getprop` lists `[key]: [value]` lines, `getprop KEY` prints the value (an empty line
    for an unknown key)."""
    cases = "".join(f"  {key}) echo '{value}' ;;\n" for key, value in PROPERTIES.items())
    listing = "".join(f"  echo '[{key}]: [{value}]'\n" for key, value in sorted(PROPERTIES.items()))
    return (f"#!/system/bin/sh\nif [ $# -eq 0 ]; then\n{listing}  exit 0\nfi\n"
            f"case \"$1\" in\n{cases}  *) echo ;;\nesac\n")


def make_phone_root(root: Path, busybox: Path) -> Path:
    """Creates (or completes) the phone's file system at `root` and returns it: /system/bin/busybox (a copy of
    `busybox`, a static aarch64 build), its applets as relative links, /system/bin/getprop, /data/local/tmp
    (mode 1777, as on Android) and /dev/null (a character device: needs root)."""
    root = Path(root)
    system_bin = root / "system" / "bin"
    system_bin.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(busybox, system_bin / "busybox")
    (system_bin / "busybox").chmod(0o755)
    for applet in APPLETS:
        link = system_bin / applet
        if not link.is_symlink():
            link.symlink_to("busybox")
    getprop = system_bin / "getprop"
    getprop.write_text(getprop_script())
    getprop.chmod(0o755)
    tmp = root / "data" / "local" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o1777)
    null = root / "dev" / "null"
    null.parent.mkdir(exist_ok=True)
    if not null.exists():
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        null.chmod(0o666)
    return root
