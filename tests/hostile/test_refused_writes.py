"""Writes the operating system refuses (a full disk, a file size limit, a read-only run folder) and --out names as
long as the file system allows: one error line and the earlier run as it was, or a run published as asked.

The disk is filled the way the OS itself refuses writes for an unprivileged process: RLIMIT_FSIZE in the child
(EFBIG, the same code path as ENOSPC); a read-only folder is `chmod`, or for root (whom modes do not bind) `chattr +i`."""
import contextlib
import hashlib
import os
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import MND, run_mnd

pytestmark = pytest.mark.slow
TINY = ("--target", "host", "--cost-only", "--alpha", "0.25", "--classes", "2", "--channels", "1", "--runs", "1",
        "--warmup", "0")
VARIANT = "variants/mobilenet_v1_025_32"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A finished one-variant cost-only sweep on the host (about 8 s); tests work on copies."""
    out = tmp_path_factory.mktemp("refused") / "sweep"
    run_mnd("sweep", *TINY, "--resolution", "32", "--out", out, check=0)
    return out


def snapshot(root: Path) -> dict:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            for path in sorted(root.rglob("*"))}


def limited(*args, max_file_bytes: int, env=None):
    """mnd with every file it (or a child) writes limited to max_file_bytes: writes beyond fail with EFBIG."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, resource.RLIM_INFINITY))
    return subprocess.run([str(MND), *map(str, args)], capture_output=True, text=True, preexec_fn=limit,
                          env={**os.environ, **(env or {})}, timeout=600)


def one_error_line(result, phrase: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if ": error:" in line]
    assert result.returncode == 2 and len(errors) == 1 and phrase in errors[0], result.stderr[-3000:]


def test_a_refused_write_gives_one_line_and_leaves_the_earlier_run_as_it_was(sweep, tmp_path):
    copy, temporary = tmp_path / "sweep", tmp_path / "tmp"
    shutil.copytree(sweep, copy)
    temporary.mkdir()
    before = snapshot(tmp_path)
    # sweep: the new variant's first large file (TensorFlow's SavedModel, in TMPDIR) is refused
    result = limited("sweep", *TINY, "--resolution", "32,48", "--out", copy, max_file_bytes=100_000,
                     env={"TMPDIR": str(temporary)})
    one_error_line(result, "File too large")
    # report: report.html is refused after report.md was written; neither replaces the old one
    one_error_line(limited("report", copy / VARIANT, max_file_bytes=20_000), "report.html': File too large")
    assert snapshot(tmp_path) == before
    # a read-only run folder
    with read_only(copy / VARIANT):
        one_error_line(run_mnd("report", copy / VARIANT), "is read-only here")
    assert snapshot(tmp_path) == before


@contextlib.contextmanager
def read_only(folder: Path):
    """No new entries in `folder`: chmod for a user, the immutable attribute for root (whom modes do not bind)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_out_names_of_name_max_bytes_are_published_and_replaced(sweep, tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        shutil.copytree(sweep / VARIANT, run)
    out = tmp_path / ("r" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 2) + "é")  # the last byte a whole character
    assert len(os.fsencode(out.name)) == os.pathconf(tmp_path, "PC_NAME_MAX")
    run_mnd("report", *runs, "--out", out, check=0)
    first = (out / "manifest.json").read_bytes()
    run_mnd("report", *runs, "--out", out, "--force", check=0)  # the old one goes aside under a backup name
    assert (out / "manifest.json").read_bytes() == first
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["a", "b", out.name])
