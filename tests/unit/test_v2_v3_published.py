"""Every published MobileNet V2 and V3 row against `mnd summary --json` (1001 classes, as published).

The figures are written out here, as printed, rather than read from mnd's own table, so that a change to either
side fails: V2 from the slim README (tensorflow/models research/slim/nets/mobilenet/README.md), V3 from the same
README and from the V3 paper's Table 3.
"""
import json
import subprocess
import sys
import math

import pytest

from tests.conftest import run_mnd

# (alpha, side): (MACs truncated to whole millions, parameters in millions to 0.01, top-1) as the README prints them
V2_README = {
    (1.4, 224): (582, 6.06, 75.0), (1.3, 224): (509, 5.34, 74.4), (1.0, 224): (300, 3.47, 71.8),
    (1.0, 192): (221, 3.47, 70.7), (1.0, 160): (154, 3.47, 68.8), (1.0, 128): (99, 3.47, 65.3),
    (1.0, 96): (56, 3.47, 60.3), (0.75, 224): (209, 2.61, 69.8), (0.75, 192): (153, 2.61, 68.7),
    (0.75, 160): (107, 2.61, 66.4), (0.75, 128): (69, 2.61, 63.2), (0.75, 96): (39, 2.61, 58.8),
    (0.5, 224): (97, 1.95, 65.4), (0.5, 192): (71, 1.95, 63.9), (0.5, 160): (50, 1.95, 61.0),
    (0.5, 128): (32, 1.95, 57.7), (0.5, 96): (18, 1.95, 51.2), (0.35, 224): (59, 1.66, 60.3),
    (0.35, 192): (43, 1.66, 58.2), (0.35, 160): (30, 1.66, 55.7), (0.35, 128): (20, 1.66, 50.8),
    (0.35, 96): (11, 1.66, 45.5),
}
# name: [(source, MACs M, params M, top-1)]
V3_PUBLISHED = {
    "mobilenet_v3_large_100_224": [("slim README", 217, 5.4, 75.2), ("V3 paper Table 3", 219, 5.4, 75.2)],
    "mobilenet_v3_large_075_224": [("slim README", 155, 4.0, 73.3), ("V3 paper Table 3", 155, 4.0, 73.3)],
    "mobilenet_v3_small_100_224": [("slim README", 66, 2.9, 67.5), ("V3 paper Table 3", 56, 2.5, 67.4)],
    "mobilenet_v3_small_075_224": [("slim README", 44, 2.4, 65.4), ("V3 paper Table 3", 44, 2.0, 65.4)],
    "mobilenet_v3_large_100_224_minimalistic": [("slim README", 209, 3.9, 72.3)],
    "mobilenet_v3_small_100_224_minimalistic": [("slim README", 65, 2.0, 61.9)],
}
# The one published figure no convention reproduces: Small minimalistic's 65 M MACs (its parameters agree).
V3_SMALL_MINIMALISTIC_MACS = 52_289_472


def grid(family):
    result = run_mnd("summary", "--grid", "--family", family, "--json", check=0)
    return {row["name"]: row for row in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def v2_grid():
    return grid("v2")


@pytest.fixture(scope="module")
def v3_grid():
    return grid("v3")


def v2_name(alpha, side):
    return f"mobilenet_v2_{round(alpha * 100):03d}_{side}"


@pytest.mark.parametrize("alpha, side", list(V2_README), ids=lambda value: str(value))
def test_v2_readme_row(v2_grid, alpha, side):
    mult_adds_m, params_m, top1 = V2_README[(alpha, side)]
    row = v2_grid[v2_name(alpha, side)]
    assert row["classes"] == 1001
    assert math.floor(row["mult_adds"] / 1e6) == mult_adds_m
    assert round(row["params"] / 1e6, 2) == params_m
    assert row["published"] == [{"source": "slim README", "mult_adds_m": mult_adds_m, "params_m": params_m,
                                 "top1": top1, "classes": 1001, "unmatched": None}]


def test_v2_grid_is_the_readme_table(v2_grid):
    assert sorted(v2_grid) == sorted(v2_name(alpha, side) for alpha, side in V2_README)


@pytest.mark.parametrize("name", list(V3_PUBLISHED))
def test_v3_published_rows(v3_grid, name):
    row = v3_grid[name]
    published = [(entry["source"], entry["mult_adds_m"], entry["params_m"], entry["top1"]) for entry in row["published"]]
    assert published == V3_PUBLISHED[name]
    mult_adds_m, params_m = row["mult_adds"] / 1e6, row["params"] / 1e6
    assert any(abs(params_m - figure[2]) <= 0.1 for figure in published)
    if name == "mobilenet_v3_small_100_224_minimalistic":
        assert row["mult_adds"] == V3_SMALL_MINIMALISTIC_MACS
        assert "65 M" in row["published"][0]["unmatched"]
    else:
        assert any(abs(mult_adds_m - figure[1]) <= 1 and abs(params_m - figure[2]) <= 0.1 for figure in published)
        assert all(entry["unmatched"] is None for entry in row["published"])


def test_v3_acceptance_ranges(v3_grid):
    large, small_075 = v3_grid["mobilenet_v3_large_100_224"], v3_grid["mobilenet_v3_small_075_224"]
    assert 216 <= large["mult_adds"] / 1e6 <= 220 and 5.3 <= large["params"] / 1e6 <= 5.6
    assert 42.5 <= small_075["mult_adds"] / 1e6 <= 44.5 and 1.95 <= small_075["params"] / 1e6 <= 2.45
    minimal = v3_grid["mobilenet_v3_large_100_224_minimalistic"]
    assert round(minimal["mult_adds"] / 1e6) == 209 and round(minimal["params"] / 1e6, 1) == 3.9


def test_se_scale_counted_apart(v3_grid):
    """The squeeze-and-excite scaling is one multiply per expanded element; minimalistic models have none."""
    for name, row in v3_grid.items():
        extra = row["mult_adds_with_se_scale"] - row["mult_adds"]
        assert (extra == 0) == name.endswith("_minimalistic")
    assert v3_grid["mobilenet_v3_large_100_224"]["mult_adds_with_se_scale"] - \
        v3_grid["mobilenet_v3_large_100_224"]["mult_adds"] == 597_408


def test_model_summary_json_and_table(mnd):
    doc = json.loads(mnd("summary", "--model", "mobilenet_v2_100_224", "--classes", "1001", "--json", check=0).stdout)
    assert doc["model"]["family"] == "v2" and math.floor(doc["mult_adds"] / 1e6) == 300
    assert round(doc["params"] / 1e6, 2) == 3.47
    assert sum(row["params"] for row in doc["blocks"]) == doc["params"] == sum(row["params"] for row in doc["layers"])
    assert sum(row["mult_adds"] for row in doc["blocks"]) == doc["mult_adds"]
    assert len([row for row in doc["blocks"] if row["type"] == "bottleneck"]) == 17
    text = mnd("summary", "--model", "mobilenet_v3_small_100_224", check=0).stdout
    assert "bneck 10" in text and "hard_swish" in text and "V3 paper Table 3" in text and "yes" in text


def test_family_v2_with_alpha_and_resolution(mnd):
    doc = json.loads(mnd("summary", "--family", "v2", "--alpha", "0.35", "--resolution", "96", "--classes", "1001",
                         "--json", check=0).stdout)
    assert doc["model"]["name"] == "mobilenet_v2_035_96" and math.floor(doc["mult_adds"] / 1e6) == 11


@pytest.mark.parametrize("args, message", [
    (("--model", "mobilenet_v3_smal_100_224"), "did you mean 'mobilenet_v3_small_100_224'"),
    (("--model", "mobilenet_v2_100_224", "--shallow"), "--shallow applies to mobilenet_v1 models only"),
    (("--model", "mobilenet_v2_100_224", "--activation", "relu"), "applies to mobilenet_v1 models only"),
    (("--model", "mobilenet_v2_100_224", "--family", "v3"), "does not match"),
    (("--family", "v3"), "--family v3 needs --model"),
    (("--model", "mobilenet_v2_100_224_minimalistic"), "no minimalistic variant"),
])
def test_refusals_name_the_fix(mnd, args, message):
    result = mnd("summary", *args, check=2)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_v1_grid_unchanged_by_default(mnd):
    rows = json.loads(mnd("summary", "--grid", "--json", check=0).stdout)
    assert len(rows) == 16 and rows[0]["name"] == "mobilenet_v1_100_224"


@pytest.mark.parametrize("args", [("--model", "mobilenet_v3_large_100_224_minimalistic"), ("--grid", "--family", "v3"),
                                  ("--model", "mobilenet_v2_140_224")])
def test_summary_never_imports_tensorflow(args):
    code = ("import sys; from mnd.pipeline.cli import main; status = main(['summary', '--json', *sys.argv[1:]]); "
            "assert status == 0, status; "
            "assert not {'tensorflow', 'keras'} & set(sys.modules), 'TensorFlow imported'")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
