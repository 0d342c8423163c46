"""docker/build.sh passes STORAGE and PIP_CACHE paths with spaces on as single words: run against stand-ins for
buildah and podman that record their arguments, so nothing is built."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAND_IN = """#!/bin/sh
for word in "$@"; do printf '%s\\037' "$word"; done >> "$CALLS"
printf '\\036' >> "$CALLS"
case " $* " in
  *" --format "*) echo unlabelled-id;;
  *" from "*) echo the-container;;
  *" mount "*) printf '%s\\n' "$MOUNTED";;
esac
"""


def test_paths_with_spaces_reach_buildah_as_one_word(tmp_path):
    tools, mounted = tmp_path / "bin", tmp_path / "mounted image"
    tools.mkdir()
    for tool in ("buildah", "podman"):
        (tools / tool).write_text(STAND_IN)
        (tools / tool).chmod(0o755)
    (mounted / "opt" / "mnd").mkdir(parents=True)
    (mounted / "opt" / "mnd" / "apt-packages.txt").write_text("gcc=12\nqemu=7\n")
    storage, pip_cache = tmp_path / "my storage", tmp_path / "pip cache $HOME"
    env = {"PATH": f"{tools}:/usr/bin:/bin", "STORAGE": str(storage), "PIP_CACHE": str(pip_cache),
           "CALLS": str(tmp_path / "calls"), "MOUNTED": str(mounted), "HOME": str(tmp_path)}
    done = subprocess.run(["sh", str(REPO / "docker" / "build.sh")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    calls = [call.split("\x1f")[:-1] for call in (tmp_path / "calls").read_text().split("\x1e")[:-1]]
    assert len(calls) == 9 and all(call[0] == "--storage-driver" for call in calls)
    for call in calls:
        assert call[:6] == ["--storage-driver", "vfs", "--root", f"{storage}/root", "--runroot", f"{storage}/run"]
    (build,) = [call for call in calls if call[6] == "bud"]
    assert build[build.index("--volume") + 1] == f"{pip_cache}:/root/.cache/pip"
    (label,) = [call for call in calls if call[6] == "config"]
    assert label[label.index("--label") + 1] == "mnd.apt-packages=gcc=12 qemu=7"


def test_a_pip_cache_with_a_colon_is_refused_in_one_line(tmp_path):
    env = {**os.environ, "STORAGE": str(tmp_path / "s"), "PIP_CACHE": str(tmp_path / "a:b")}
    done = subprocess.run(["sh", str(REPO / "docker" / "build.sh")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "PIP_CACHE" in done.stderr
