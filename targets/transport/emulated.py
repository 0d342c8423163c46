"""A Transport into the local emulated arm64 root filesystem (targets/linux_arm64/rootfs.py): commands run there
under qemu-aarch64 (binfmt_misc) with QEMU_CPU pinned to the board's core, files move by plain host copies.

Each command gets private mount and PID namespaces (unshare) holding the guest's /proc, /dev, /sys and the board's
/proc/cpuinfo, so nothing is mounted on the host and nothing needs cleaning up when the command ends or is killed.
Needs root, or unprivileged user namespaces (then unshare maps the caller to root).
"""
import errno
import os
import shlex
import shutil
import tempfile
from pathlib import Path

from mnd.targets.linux_arm64.rootfs import CPUINFO, binfmt_ready, cpuinfo_file
from mnd.targets.transport.base import RemoteResult, Transport, TransportError, run_in_own_group

GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SETUP_FAILED = 125  # with a "mnd-arm64:" line on stderr: the namespace could not be set up
# Runs as `sh -c LAUNCH mnd-arm64 ROOT CPUINFO CPU GUEST_ARGV...` inside the new namespaces.
LAUNCH = f"""PATH=/usr/sbin:/usr/bin:/sbin:/bin
root=$1 cpuinfo=$2 cpu=$3
shift 3
fail() {{ echo "mnd-arm64: $1 failed; the emulated board needs root or user namespaces" >&2; exit {SETUP_FAILED}; }}
mount -t proc proc "$root/proc" || fail "mounting /proc"
mount --bind "$cpuinfo" "$root/proc/cpuinfo" || fail "binding the board's /proc/cpuinfo"
mount --rbind /dev "$root/dev" || fail "binding /dev"
mount --rbind /sys "$root/sys" || fail "binding /sys"
QEMU_CPU=$cpu chroot "$root" /usr/bin/env -i PATH={GUEST_PATH} HOME=/root LANG=C.UTF-8 QEMU_CPU="$cpu" "$@"
"""  # no exec: this shell stays the namespace's PID 1, since qemu dies of a guest fault by raising the signal on
# itself, which PID 1 would ignore (it then hangs)


def shell_launcher(rootfs: Path, qemu_cpu: str) -> list:
    """An argv prefix: `shell_launcher(rootfs, cpu) + ["/bin/sh", "-c", CMD]` runs CMD inside the root filesystem
    under qemu-aarch64 -cpu `qemu_cpu`, in fresh namespaces, as a plain subprocess (e.g. an sshd ForceCommand)."""
    if not (Path(rootfs) / "usr/bin/env").exists():
        raise TransportError(f"{rootfs} is not an arm64 root filesystem; build one with ensure_rootfs()")
    reason = binfmt_ready()
    if reason:
        raise TransportError(reason)
    if qemu_cpu not in CPUINFO:
        raise TransportError(f"no board /proc/cpuinfo for QEMU CPU '{qemu_cpu}'; use one of {', '.join(CPUINFO)}")
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    as_root = [] if os.geteuid() == 0 else ["--map-root-user"]
    return [unshare, *as_root, "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--",
            "/bin/sh", "-c", LAUNCH, "mnd-arm64", str(rootfs), str(cpuinfo_file(rootfs, qemu_cpu)), qemu_cpu]


class EmulatedTransport(Transport):
    """The emulated board: `rootfs` from ensure_rootfs(), `qemu_cpu` the core it pins (cortex-a72: Raspberry Pi 4,
    cortex-a76: Raspberry Pi 5). Work directories are /tmp/mnd.XXXX inside the root filesystem."""

    def __init__(self, rootfs: Path, qemu_cpu: str):
        self.rootfs, self.qemu_cpu = Path(rootfs), qemu_cpu
        self.launcher = shell_launcher(self.rootfs, qemu_cpu)

    def describe(self) -> str:
        return f"emulated arm64 (qemu-aarch64, {self.qemu_cpu})"

    def make_workdir(self) -> str:
        return "/tmp/" + Path(tempfile.mkdtemp(prefix="mnd.", dir=self.rootfs / "tmp")).name

    def remove_workdir(self, remote_dir: str) -> None:
        shutil.rmtree(self._host_path(remote_dir), ignore_errors=True)

    def push(self, files: list, remote_dir: str) -> None:
        target = self._host_path(remote_dir)
        for file in map(Path, files):
            try:
                shutil.copy(file, target / file.name)  # with its mode: an executable stays one
            except OSError as error:
                raise TransportError(f"cannot copy {file} to {remote_dir} on the emulated board: "
                                     f"{error.strerror}; check both exist") from None

    def pull(self, remote_dir: str, names: list, local_dir: Path) -> None:
        source = self._host_path(remote_dir)
        for name in names:
            if not (source / name).is_file():
                raise TransportError(f"{remote_dir}/{name} not found on the emulated board; the command that should "
                                     "have written it failed (see its output)")
            shutil.copyfile(source / name, Path(local_dir) / name)

    def run(self, argv: list, *, cwd: str, timeout: float, env: dict | None = None) -> RemoteResult:
        assignments = [f"{key}={value}" for key, value in (env or {}).items()]
        guest = ["/usr/bin/env", *assignments, "/bin/sh", "-c", f"cd {shlex.quote(cwd)} && exec {shlex.join(argv)}"]
        try:
            done = run_in_own_group(self.launcher + guest, timeout=timeout,
                                    timeout_message=f"'{shlex.join(argv)}' ran past {timeout:g} s on the emulated "
                                                    "board and was stopped; raise the time limit or run less")
        except OSError as error:
            if error.errno == errno.EFBIG:  # the file size limit killed it: a refused write, not a missing tool
                raise
            raise TransportError(f"cannot start unshare for the emulated board: {error.strerror}; "
                                 "install util-linux") from None
        stdout, stderr = done.stdout, done.stderr
        if done.returncode == SETUP_FAILED and stderr.startswith(b"mnd-arm64:"):
            raise TransportError(stderr.decode(errors="replace").strip().splitlines()[-1])
        return RemoteResult(done.returncode, stdout, stderr)

    def _host_path(self, remote_dir: str) -> Path:
        """remote_dir (a path inside the root filesystem) as a host path, refused when it leads outside it."""
        root = self.rootfs.resolve()
        path = (root / remote_dir.lstrip("/")).resolve()
        if not remote_dir.startswith("/") or not path.is_relative_to(root):
            raise TransportError(f"'{remote_dir}' is not an absolute path inside the emulated board's root "
                                 "filesystem; use a directory from make_workdir()")
        return path
