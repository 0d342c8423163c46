"""A compromised board: `mnd measure RUN --target rpi4 --ssh HOST` where the board answers the runner with
pickled .npy outputs (whose unpickling would plant a file). One error line naming the board and what was wrong,
exit 2, nothing unpickled, nothing written. The "board" is this machine behind a stand-in `ssh` on PATH and a
hostile `--remote-python`, so the real SshTransport, result reader and target code run."""
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.cli.test_measure_untrusted import assert_refused, snapshot
from tests.conftest import skip_or_fail
from tests.untrusted_runs import FAST

pytestmark = pytest.mark.slow

SSH = """#!/bin/sh
for remote_command; do :; done  # ssh's last argument: what the board's shell runs
exec sh -c "$remote_command"
"""
HOSTILE_PYTHON = """#!{python}
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, {tests!r})
from tests.unit.test_board_output import Planted
Planted.path = {canary!r}
header = {{"runner": 1, "python": "3.11.2", "machine": "aarch64", "litert_module": "ai_edge_litert",
          "packages": {{"numpy": "2.0", "ai_edge_litert": "1.0", "tflite_runtime": None, "onnxruntime": "1.0"}}}}
if sys.argv[1:] == ["runner.py", "--probe"]:
    print(json.dumps(header))
    sys.exit(0)
items = []
for item in json.loads(Path("job.json").read_text())["items"]:
    np.save(item["outputs"], np.array([Planted()], dtype=object), allow_pickle=True)
    items.append({{"id": item["id"], "ok": True, "error": None, "outputs": item["outputs"], "latencies_ms": [1.0],
                  "seconds": 1.0}})
Path("result.json").write_text(json.dumps({{**header, "fatal": None, "items": items}}))
"""


def test_pickled_outputs_from_a_compromised_board_are_refused_by_name(exported, tmp_path, mnd):
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        skip_or_fail("aarch64-linux-gnu-gcc needed to build mnd-c for rpi4")
    run, tools, canary = tmp_path / "run", tmp_path / "tools", tmp_path / "unpickled"
    shutil.copytree(exported[0], run, symlinks=True)
    tools.mkdir()
    (tools / "ssh").write_text(SSH)
    (tools / "python").write_text(HOSTILE_PYTHON.format(python=sys.executable, canary=str(canary),
                                                        tests=str(Path(__file__).resolve().parents[2])))
    for tool in tools.iterdir():
        tool.chmod(0o755)
    before = snapshot(run)
    result = mnd("measure", run, "--target", "rpi4", "--ssh", "board", "--remote-python", tools / "python",
                 "--threads", "1", *FAST, env={"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"})
    assert_refused(result, "rpi4 (ssh board): outputs_")
    assert "is not a plain .npy array" in result.stderr
    assert not canary.exists()
    after = snapshot(run)
    assert after.pop(".")[:2] == before.pop(".")[:2] and after == before  # the staging folder beside came and went
