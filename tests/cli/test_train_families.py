"""`mnd train --model` takes every family's registry name; mistakes are refused before TensorFlow starts."""
import json

import pytest

from tests.conftest import run_mnd


@pytest.mark.slow
def test_one_epoch_of_v3_small_on_digits(tmp_path):
    out = tmp_path / "run"
    run_mnd("train", "--model", "mobilenet_v3_small_075_32", "--dataset", "digits", "--epochs", "1", "--out", out,
            check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["model"] == {"name": "mobilenet_v3_small_075_32", "family": "v3_small", "alpha": 0.75, "side": 32,
                                 "classes": 10, "channels": 1, "activation": "hard_swish", "minimalistic": False}


@pytest.mark.parametrize("args, phrase", [
    (("--model", "mobilenet_v2_35_96"), "did you mean 'mobilenet_v2_035_96'"),
    (("--model", "mobilenet_v2_035_32", "--activation", "relu"), "applies to mobilenet_v1 models only"),
    (("--model", "mobilenet_v1_025_32", "--activation", "relu7"), "did you mean 'relu"),
])
def test_mistakes_refused_before_any_work(tmp_path, args, phrase):
    result = run_mnd("train", *args, "--dataset", "digits", "--out", tmp_path / "never", check=2)
    assert phrase in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "never").exists()
