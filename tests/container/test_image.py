"""The docker/ toolchain image as `make docker` builds it (docker/build.sh), here with buildah into a private storage
from a debootstrapped stand-in for debian:bookworm-slim (no registry is reachable), then run with podman: `mnd
doctor` finds every tool, and a cortex-m4 export inside it equals the host's byte for byte, with the same emulated
instruction count. The storage is removed afterwards; the base tarball (~/.cache/mnd) and pip's cache are kept."""
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import REPO, run_mnd, skip_or_fail

IMAGE = "localhost/mnd:test"
IMAGE_UID = 1000  # the image's user, mnd (docker/Dockerfile)
EXPORT = ("export", "--train-epochs", "0", "--allow-drift", "--target", "cortex-m4")
TOOLS = ("buildah", "podman", "runc", "debootstrap")
APT_PACKAGES = {"gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm", "qemu-user-static", "debootstrap",
                "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "openssh-client", "adb", "gcc", "libc6-dev",
                "python3"}
# podman's default limits (nofile 1048576, nproc 32768) are above what a host without CAP_SYS_RESOURCE lets runc set.
OPEN_FILES = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
ULIMITS = ("--ulimit", f"nofile={OPEN_FILES}:{OPEN_FILES}", "--ulimit", "nproc=4096:4096")
BUILD_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 900
LOCK = REPO / "requirements.lock"


def run(command, timeout, **kwargs):
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} exited {result.returncode}\n"
                                    f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}")
    return result


def remove_tree(path: Path) -> None:
    """rm -rf of the storage, after detaching anything still mounted inside it; never crosses file systems."""
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{path}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], stderr=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def storage():
    """A private containers-storage folder; short, since podman refuses a runroot over 50 characters."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not found (make toolchain installs them)")
    if os.geteuid() != 0:
        skip_or_fail("the container test needs root (debootstrap, buildah's chroot isolation)")
    path = Path(tempfile.mkdtemp(prefix="mnd-storage-", dir="/tmp"))
    yield path
    remove_tree(path)


@pytest.fixture(scope="module")
def podman(storage):
    """podman's command line for the private storage (its locks and events under it too)."""
    return ["podman", "--storage-driver", "vfs", "--root", storage / "root", "--runroot", storage / "run",
            "--tmpdir", storage / "tmp"]


@pytest.fixture(scope="module")
def image(storage):
    pip_cache = Path.home() / ".cache" / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "IMAGE": IMAGE, "STORAGE": str(storage), "PIP_CACHE": str(pip_cache)}
    run([REPO / "docker" / "build.sh"], BUILD_TIMEOUT_S, env=env)
    return IMAGE


@pytest.fixture(scope="module")
def in_image(podman, image, tmp_path_factory) -> Path:
    """`mnd doctor --json` and the export, in one container (each start copies the whole image in vfs), offline,
    as the image's non-root user, writing into a bind-mounted folder."""
    out = tmp_path_factory.mktemp("container-out")
    os.chown(out, IMAGE_UID, IMAGE_UID)
    script = (f"mnd doctor --json > /work/out/doctor.json && mnd {' '.join(EXPORT)} --out /work/out/m4 --json "
              "> /work/out/export.json")
    run([*podman, "run", "--rm", "--runtime", "runc", *ULIMITS, "--network", "none", "--volume", f"{out}:/work/out",
         "--entrypoint", "sh", image, "-c", script], RUN_TIMEOUT_S)
    return out


@pytest.fixture(scope="module")
def on_host(tmp_path_factory) -> Path:
    """The same export with this venv's mnd."""
    out = tmp_path_factory.mktemp("host-out")
    run_mnd(*EXPORT, "--out", out / "m4", cwd=out, check=0, timeout=RUN_TIMEOUT_S)
    return out


def artifact_digests(run_dir: Path) -> dict:
    """{artifact path: sha256} from the manifest, each checked against the file itself."""
    artifacts = json.loads((run_dir / "manifest.json").read_text())["artifacts"]
    digests = {artifact["path"]: artifact["sha256"] for artifact in artifacts}
    for path, digest in digests.items():
        assert sha256(run_dir / path) == digest, f"{run_dir / path} does not match its manifest"
    return digests


def cortex_m4_measurement(run_dir: Path) -> dict:
    measurements = json.loads((run_dir / "manifest.json").read_text())["measurements"]
    return next(m for m in measurements if m["target"] == "cortex-m4" and m["runtime"] == "mnd-c")


@pytest.mark.container
@pytest.mark.slow
def test_doctor_in_the_image_finds_every_tool_and_lists_the_apt_versions(in_image):
    doctor = json.loads((in_image / "doctor.json").read_text())
    assert [tool["name"] for tool in doctor["tools"] if not tool["found"]] == []
    assert doctor["missing_packages"] == []
    assert doctor["packages"]["tensorflow-cpu"] == metadata.version("tensorflow-cpu")
    assert APT_PACKAGES <= set(doctor["image_apt_packages"]), doctor["image_apt_packages"]


@pytest.mark.container
@pytest.mark.slow
def test_image_label_holds_the_installed_apt_versions(podman, image, in_image):
    label = run([*podman, "image", "inspect", "--format", '{{ index .Labels "mnd.apt-packages" }}', image], 60)
    doctor = json.loads((in_image / "doctor.json").read_text())
    assert label.stdout.split() == [f"{name}={version}" for name, version in doctor["image_apt_packages"].items()]


@pytest.mark.container
@pytest.mark.slow
def test_export_in_the_image_writes_the_hosts_artifacts_byte_for_byte(in_image, on_host):
    inside, outside = artifact_digests(in_image / "m4"), artifact_digests(on_host / "m4")
    assert len(outside) >= 7 and inside == outside
    # The generated Cortex-M project and the firmware built from it with each side's arm-none-eabi-gcc, too.
    project = ["model.c", "model.h", "kernels.c", "kernels.h", "Makefile", "build/firmware.elf"]
    assert {name: sha256(in_image / "m4/cortex-m4" / name) for name in project} == \
           {name: sha256(on_host / "m4/cortex-m4" / name) for name in project}


@pytest.mark.container
@pytest.mark.slow
def test_export_in_the_image_counts_the_same_emulated_instructions(in_image, on_host):
    inside, outside = cortex_m4_measurement(in_image / "m4"), cortex_m4_measurement(on_host / "m4")
    assert inside["emulated"] and inside["instructions"] > 0
    assert inside["instructions"] == outside["instructions"]
    per_layer = [[layer["instructions"] for layer in side["layers"]] for side in (inside, outside)]
    assert per_layer[0] == per_layer[1]


def test_lock_pins_exactly_what_pyproject_pins():
    """The lock (for .venv and the image) must follow pyproject.toml's pins: rerun `make lock` after changing them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["cpu"], *project["optional-dependencies"]["test"]]
    locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", LOCK.read_text(), flags=re.MULTILINE))
    normalized = {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in locked.items()}
    for pin in pins:
        name, version = pin.split("==")
        assert normalized.get(re.sub(r"[-_.]+", "-", name).lower()) == version, f"{pin} is not what {LOCK.name} pins"
