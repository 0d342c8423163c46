"""The Keras model is the layer plan: same shapes, same counted weights."""
import re

import keras
import pytest

from mnd.base.errors import UsageError
from mnd.pipeline.model.architecture import ModelSpec, layer_plan, parse_model_name
from mnd.pipeline.model.keras_builder import build_model, counted_weights, create_model
from mnd.pipeline.model.summary import summarize

SPECS = [
    ModelSpec(alpha=0.25, side=96, classes=2),
    ModelSpec(alpha=0.35, side=100, classes=7),
    ModelSpec(alpha=0.5, side=33, classes=3, channels=1, activation="relu"),
    ModelSpec(alpha=1.0, side=224, classes=1000, shallow=True),
    ModelSpec(alpha=0.75, side=64, classes=5, full_conv=True),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.name}-{s.classes}-{s.channels}ch")
def test_keras_weights_equal_summary_params(spec):
    model = build_model(spec)
    assert counted_weights(model) == summarize(spec)["params"]


@pytest.mark.parametrize("spec", SPECS[:3], ids=lambda s: s.name)
def test_keras_shapes_follow_the_plan(spec):
    model = build_model(spec)
    convs = [layer for layer in model.layers
             if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    plan = [layer for layer in layer_plan(spec) if layer.kind in ("conv", "dw", "pw")]
    assert len(convs) == len(plan)
    for keras_layer, planned in zip(convs, plan):
        assert tuple(keras_layer.output.shape[1:]) == (planned.out_side, planned.out_side, planned.out_channels)
    assert model.output_shape == (None, spec.classes)
    assert model.input_shape == (None, spec.side, spec.side, spec.channels)


def test_activation_and_registry_name():
    model = create_model("mobilenet_v1_025_96", classes=2)
    assert model.name == "mobilenet_v1_025_96"
    relus = [layer for layer in model.layers if isinstance(layer, keras.layers.ReLU)]
    assert relus and all(float(layer.max_value) == 6.0 for layer in relus)
    plain = build_model(ModelSpec(alpha=0.25, side=32, classes=2, activation="relu"))
    assert all(layer.max_value is None for layer in plain.layers if isinstance(layer, keras.layers.ReLU))


def test_shallow_drops_five_blocks():
    full, shallow = layer_plan(ModelSpec()), layer_plan(ModelSpec(shallow=True))
    assert len(full) - len(shallow) == 10
    assert parse_model_name("mobilenet_v1_100_224_shallow").shallow


@pytest.mark.parametrize("fields, message", [
    (dict(alpha=0), "0 < alpha <= 1"), (dict(alpha=1.5), "0 < alpha <= 1"), (dict(alpha=0.01), "first conv"),
    (dict(side=31), "at least 32"), (dict(classes=1), "at least 2"), (dict(channels=2), "1 (grayscale) or 3"),
    (dict(activation="relu7"), "did you mean 'relu"),
])
def test_bad_specs_name_the_fix(fields, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        ModelSpec(**fields)


def test_unknown_name_suggests_closest():
    with pytest.raises(UsageError, match="did you mean 'mobilenet_v1_025_96'"):
        parse_model_name("mobilnet_v1_025_96")
