"""`mnd sweep --family`: V2 and V3 variants built from the registry, counted like `mnd summary`, exported and
measured on the host; a family's own alpha limit refused before any work."""
import json

import pytest

from mnd.pipeline.model.inverted_residual import InvertedResidualSpec
from mnd.pipeline.model.inverted_residual_summary import summarize
from tests.conftest import run_mnd

FAST = ("--runs", "3", "--warmup", "1")


@pytest.mark.slow
def test_v3_small_cost_only_sweep_on_the_host(tmp_path):
    out = tmp_path / "v3"
    run_mnd("sweep", "--target", "host", "--cost-only", "--family", "v3_small", "--alpha", "0.75", "--resolution", "32",
            "--classes", "10", "--out", out, *FAST, check=0)
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["settings"]["family"] == "v3_small"
    [row] = doc["rows"]
    expected = summarize(InvertedResidualSpec("v3_small", 0.75, 32, classes=10))
    assert (row["name"], row["status"]) == ("mobilenet_v3_small_075_32", "measured")
    assert (row["mult_adds"], row["params"]) == (expected["mult_adds"], expected["params"])
    assert row["int8_bytes"] > expected["params"]


@pytest.mark.parametrize("args, phrase", [
    (("--alpha", "1.4"), "alpha 1.4 is out of range; use 0 < alpha <= 1"),
    (("--alpha", "2.5", "--family", "v2"), "give 0 < alpha <= 2"),
    (("--family", "v3"), "invalid choice: 'v3'"),
])
def test_family_limits_refused_before_any_work(tmp_path, args, phrase):
    result = run_mnd("sweep", "--cost-only", *args, "--out", tmp_path / "never", check=2)
    assert phrase in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "never").exists()
