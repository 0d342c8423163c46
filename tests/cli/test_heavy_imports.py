"""Answers that need no model start no heavy library: help, the target list, doctor and every usage error import
none of TensorFlow, Keras, LiteRT, ONNX Runtime, ONNX, matplotlib or Ray. Checked in the child's sys.modules at exit:
TensorFlow is imported with fd 2 silenced (quiet.py), so `-X importtime` would not show it."""
import json
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "keras", "ai_edge_litert", "onnxruntime", "onnx", "tf2onnx", "matplotlib", "ray")
MARKER = "heavy modules imported: "
# mnd's own main(), then the heavy modules this process imported, as the last line on stderr.
PROBE = f"""
import json, sys
from mnd.pipeline.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
sys.stderr.write({MARKER!r} + json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)) + "\\n")
sys.exit(code)
"""

ANSWERS = [(["--help"], 0), (["targets"], 0), (["doctor"], 0),
           (["export", "--target", "nope"], 2), (["export", "--model", "mobilenet_v1_25_32"], 2),
           (["export", "--target", "host", "--out", "."], 2), (["measure", "no-such-run"], 2),
           (["evaluate", "--model", "missing.keras", "--data", "digits"], 2),
           (["export", "--calib", "no-such-folder"], 2), (["export", "--labels", "no-such-labels.txt"], 2),
           (["train", "--model", "mobilenet_v1_025_32", "--dataset", "no-such-folder", "--out", "x"], 2),
           (["train", "--model", "mobilenet_v1_025_32", "--dataset", "digits", "--val-split", "1.2", "--out", "x"], 2),
           (["quantize-report", "--model", "mobilenet_v1_25_32"], 2),
           (["sweep", "--target", "nope", "--cost-only"], 2),
           (["sweep", "--cost-only", "--address", "auto"], 2)]


@pytest.mark.parametrize("argv, code", ANSWERS, ids=[" ".join(argv) for argv, _ in ANSWERS])
def test_no_heavy_library_for_an_answer_without_a_model(tmp_path, argv, code):
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    *lines, last = result.stderr.splitlines()
    assert result.returncode == code and last.startswith(MARKER), result.stderr[-2000:]
    assert json.loads(last.removeprefix(MARKER)) == []
    errors = [line for line in lines if line.startswith("mnd: error:")]
    assert len(errors) == (code == 2) and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
