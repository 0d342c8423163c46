"""A stand-in for debian:bookworm-slim, for machines that cannot pull it: a debootstrap minbase root filesystem,
trimmed the way Debian's official slim image is, as a tarball that `docker import` or `podman import` takes.

Prints the tarball's path. It is cached in `<cache>/docker-base-<key>.tar` (cache: $MND_CACHE or ~/.cache/mnd, as
mnd.base.cache_folder.cache_dir; key: a short sha256 of the recipe below), built once (about 2 minutes,
as root) in a `.partial-<pid>` folder under a lock file and renamed into place, so a half-built one never counts.
Standard library only: `make docker` runs it before any venv exists.
"""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

RECIPE_VERSION = 1
SUITE, VARIANT, MIRROR = "bookworm", "minbase", "http://deb.debian.org/debian"
# What the official image carries: apt sources with updates and security, docs and man pages left out of packages
# installed later, downloaded .debs deleted after each install.
APT_SOURCES = f"""Types: deb
URIs: {MIRROR}
Suites: {SUITE} {SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: {SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
DPKG_EXCLUDES = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
"""
DELETE_DEBS = "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"
APT_CLEAN = f"""DPkg::Post-Invoke {{ "{DELETE_DEBS}"; }};
APT::Update::Post-Invoke {{ "{DELETE_DEBS}"; }};
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
"""
FILES = {"etc/apt/sources.list.d/debian.sources": APT_SOURCES, "etc/dpkg/dpkg.cfg.d/docker": DPKG_EXCLUDES,
         "etc/apt/apt.conf.d/docker-clean": APT_CLEAN}
TRIM = ("etc/apt/sources.list", "var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb",
        "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*", "usr/share/lintian/*", "var/log/*.log")


def cache_dir() -> Path:
    return Path(os.environ.get("MND_CACHE") or Path.home() / ".cache" / "mnd")


def recipe_key() -> str:
    recipe = {"version": RECIPE_VERSION, "suite": SUITE, "variant": VARIANT, "mirror": MIRROR, "files": FILES,
              "trim": TRIM}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def ensure_tarball() -> Path:
    final = cache_dir() / f"docker-base-{SUITE}-{recipe_key()}.tar"
    if final.is_file():
        return final
    if os.geteuid() != 0:
        sys.exit("base_image: debootstrap needs root; run as root or with sudo")
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.with_name(final.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process building it: wait, then use what it built
        if not final.is_file():
            _build(final)
    return final


def _build(final: Path) -> None:
    for stale in final.parent.glob(final.name + ".partial-*"):  # left by an interrupted build; we hold the lock
        _remove_tree(stale)
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    root = partial / "root"
    root.mkdir(parents=True)
    try:
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
        print(f"base_image: debootstrap {VARIANT} {SUITE} into {root} (about 2 minutes, once)", file=sys.stderr)
        subprocess.run([debootstrap, f"--variant={VARIANT}", SUITE, str(root), MIRROR], check=True,
                       stdout=subprocess.DEVNULL)
        for pattern in TRIM:
            for path in root.glob(pattern):
                _remove_tree(path)
        for relative, text in FILES.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        for folder in (root / "usr/share/doc").iterdir():  # keep only the licences
            for entry in folder.iterdir() if folder.is_dir() and not folder.is_symlink() else ():
                if entry.name != "copyright":
                    _remove_tree(entry)
        tarball = partial / "base.tar"
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(tarball), "."], check=True)
        tarball.rename(final)
    finally:
        _remove_tree(partial)


def _remove_tree(path: Path) -> None:
    """rm -rf that first detaches what a killed debootstrap left mounted inside (proc, sys) and never crosses into
    another file system."""
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{path}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], stderr=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


if __name__ == "__main__":
    print(ensure_tarball())
