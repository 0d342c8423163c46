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
    recipe = manifest["training"]["recipe"]
    assert manifest["training"]["family"] == "v3_small" and recipe["dropout_before_classifier"] == 0.2
    assert recipe["layers_without_weight_decay"] == {"DepthwiseConv2D": 11, "Conv2D": 1}  # the 1x1 classifier


def test_v2_recipe_as_built():
    """What `mnd train` records for V2 (trained one epoch on vww_dev by hand: 29 s): no dropout, no decay on depthwise
    layers or the Dense classifier."""
    from mnd.pipeline.model.keras_builder import build_model
    from mnd.pipeline.model.registry import parse_model_name
    from mnd.pipeline.training.fit import recipe_of

    recipe = recipe_of(build_model(parse_model_name("mobilenet_v2_035_96"), weight_decay=4e-5))
    assert recipe["dropout_before_classifier"] == 0.0 and recipe["label_smoothing"] == 0.0
    assert recipe["layers_without_weight_decay"] == {"DepthwiseConv2D": 17, "Dense": 1}
    assert recipe["weight_decay_layers"] == 35


@pytest.mark.parametrize("args, phrase", [
    (("--model", "mobilenet_v2_35_96"), "did you mean 'mobilenet_v2_035_96'"),
    (("--model", "mobilenet_v2_035_32", "--activation", "relu"), "applies to mobilenet_v1 models only"),
    (("--model", "mobilenet_v1_025_32", "--activation", "relu7"), "did you mean 'relu"),
])
def test_mistakes_refused_before_any_work(tmp_path, args, phrase):
    result = run_mnd("train", *args, "--dataset", "digits", "--out", tmp_path / "never", check=2)
    assert phrase in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "never").exists()
