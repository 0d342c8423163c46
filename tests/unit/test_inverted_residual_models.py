"""Our V2/V3 Keras builders are the layer plan, and the plan is Keras Applications' architecture: same weights,
same MACs (counted from the Keras layers' shapes), same shapes. Small sides keep the builds fast."""
import functools

import keras
import numpy as np
import pytest

from mnd.base.errors import UsageError
from mnd.pipeline.model.inverted_residual import InvertedResidualSpec, layer_plan, make_divisible
from mnd.pipeline.model.inverted_residual_summary import summarize
from mnd.pipeline.model.keras_builder import build_model, counted_weights, create_model
from mnd.pipeline.model.registry import parse_model_name

SPECS = [
    InvertedResidualSpec("v2", 0.35, 96, 10),
    InvertedResidualSpec("v2", 1.4, 32, 7, channels=1),
    InvertedResidualSpec("v3_small", 1.0, 96, 10),
    InvertedResidualSpec("v3_small", 0.75, 32, 5, minimalistic=True),
    InvertedResidualSpec("v3_large", 1.0, 32, 10),
    InvertedResidualSpec("v3_large", 1.3, 32, 3, minimalistic=True),
]
APPLICATIONS = {"v2": "MobileNetV2", "v3_small": "MobileNetV3Small", "v3_large": "MobileNetV3Large"}


def spec_id(spec):
    return f"{spec.name}-{spec.classes}-{spec.channels}ch"


@functools.cache
def ours(spec):
    return build_model(spec)


@functools.cache
def applications(spec):
    """Keras Applications' model of the same configuration, random weights (nothing is downloaded), ending in its
    logits (no softmax)."""
    builder = getattr(keras.applications, APPLICATIONS[spec.family])
    options = dict(input_shape=(spec.side, spec.side, spec.channels), alpha=spec.alpha, weights=None,
                   classes=spec.classes, classifier_activation=None)
    if spec.family != "v2":
        options.update(minimalistic=spec.minimalistic, include_preprocessing=False)
    return builder(**options)


def keras_mult_adds(model) -> int:
    """MACs of a Keras model from its convolution, depthwise and dense layers' shapes."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            height, width, channels = layer.output.shape[1:]
            total += layer.kernel_size[0] * layer.kernel_size[1] * height * width * channels
        elif isinstance(layer, keras.layers.Conv2D):
            height, width, out = layer.output.shape[1:]
            total += layer.kernel_size[0] * layer.kernel_size[1] * layer.input.shape[-1] * height * width * out
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return total


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_our_keras_weights_equal_summary_params(spec):
    assert counted_weights(ours(spec)) == summarize(spec)["params"]


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_keras_applications_has_the_same_weights_and_mult_adds(spec):
    reference = applications(spec)
    assert counted_weights(reference) == summarize(spec)["params"]
    assert keras_mult_adds(reference) == summarize(spec)["mult_adds"] == keras_mult_adds(ours(spec))


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_keras_shapes_follow_the_plan(spec):
    model = ours(spec)
    convs = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    planned = [layer for layer in layer_plan(spec).layers if layer.kind not in ("pool", "fc")]
    assert len(convs) == len(planned) + (spec.family != "v2")  # V3's classifier is a 1x1 conv, as in Keras
    for keras_layer, layer in zip(convs, planned):
        assert tuple(keras_layer.output.shape[1:]) == (layer.out_side, layer.out_side, layer.out_channels)
    assert model.input_shape == (None, spec.side, spec.side, spec.channels)
    assert model.output_shape == (None, spec.classes)
    assert model.name == spec.name


def test_minimalistic_has_no_se_no_hard_swish_and_3x3_depthwise():
    model = ours(SPECS[3])
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Multiply)]
    activations = {layer.get_config()["activation"] for layer in model.layers
                   if isinstance(layer, keras.layers.Activation)}
    assert "hard_swish" not in activations
    assert {layer.kernel_size for layer in model.layers if isinstance(layer, keras.layers.DepthwiseConv2D)} == {(3, 3)}


def test_v3_squeeze_and_excite_as_keras_builds_it():
    model = ours(SPECS[2])
    gates = [layer for layer in model.layers if isinstance(layer, keras.layers.Multiply)]
    assert len(gates) == sum(block.se for block in layer_plan(SPECS[2]).blocks) == 9
    reduce = model.get_layer("block_3_se_reduce")
    assert reduce.filters == make_divisible(96 * 0.25) and reduce.use_bias
    assert model.get_layer("block_3_se_expand_hard_sigmoid").get_config()["activation"] == "hard_sigmoid"


def test_v2_last_conv_width_follows_keras():
    """1280 for alpha <= 1, scaled above 1: the reference implementation's rule."""
    last = {alpha: layer_plan(InvertedResidualSpec("v2", alpha)).tail[0].out_channels for alpha in (0.35, 1.0, 1.4)}
    assert last == {0.35: 1280, 1.0: 1280, 1.4: 1792}


@pytest.mark.parametrize("name, family, alpha, side, minimalistic", [
    ("mobilenet_v2_035_96", "v2", 0.35, 96, False),
    ("mobilenet_v3_small_075_224", "v3_small", 0.75, 224, False),
    ("mobilenet_v3_large_100_160_minimalistic", "v3_large", 1.0, 160, True),
])
def test_registry_names(name, family, alpha, side, minimalistic):
    spec = parse_model_name(name, classes=3)
    assert (spec.family, spec.alpha, spec.side, spec.minimalistic, spec.classes) == (family, alpha, side, minimalistic, 3)
    assert spec.name == name


def test_create_model_takes_every_family():
    model = create_model("mobilenet_v3_small_100_32", classes=4, channels=1)
    assert model.name == "mobilenet_v3_small_100_32" and model.output_shape == (None, 4)
    assert create_model("mobilenet_v1_025_32", classes=2).name == "mobilenet_v1_025_32"


@pytest.mark.parametrize("name, message", [
    ("mobilenet_v2_100_224x", "did you mean 'mobilenet_v2_100_224'"),
    ("mobilenet_v3_large_100_224_minimal", "did you mean 'mobilenet_v3_large_100_224_minimalistic'"),
    ("mobilenet_v2_250_224", "0 < alpha <= 2"),
    ("mobilenet_v3_small_100_16", "at least 32"),
])
def test_bad_names_name_the_fix(name, message):
    with pytest.raises(UsageError, match=message):
        parse_model_name(name)


def varied_weights(model, rng) -> list:
    """Weights that keep activations spread through the whole depth (He-scaled kernels, batch norm near identity),
    so that a wrong activation or gate anywhere shows in the logits."""
    weights = []
    for variable in model.weights:
        shape, name = tuple(variable.shape), variable.path.rsplit("/", 1)[-1]
        noise = rng.normal(0.0, 1.0, shape)
        if name == "kernel":
            fan_in = np.prod(shape[:2]) if "depthwise" in variable.path else np.prod(shape[:-1])
            weights.append(noise * np.sqrt(2.0 / fan_in))
        elif name in ("gamma", "moving_variance"):
            weights.append(1.0 + 0.2 * np.abs(noise))
        else:  # beta, moving_mean, bias
            weights.append(0.2 * noise)
    return [w.astype(np.float32) for w in weights]


def logits(model):
    """The model up to its softmax, if it has one: differences the softmax would squash stay visible."""
    last = model.layers[-1]
    return keras.Model(model.input, last.input if isinstance(last, keras.layers.Softmax) else last.output)


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_same_weights_give_keras_applications_logits(spec):
    """Keras Applications' weights poured into our model give its logits: the same layers in the same order with
    the same activations, squeeze-and-excite gates and residuals, not only the same counts."""
    reference, model = applications(spec), ours(spec)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in reference.get_weights()]
    rng = np.random.default_rng(0)
    weights = varied_weights(reference, rng)
    reference.set_weights(weights)
    model.set_weights(weights)
    images = rng.uniform(-1.0, 1.0, (2, spec.side, spec.side, spec.channels)).astype(np.float32)
    expected = np.asarray(logits(reference)(images, training=False)).reshape(2, -1)
    assert np.std(expected) > 0.1
    np.testing.assert_allclose(np.asarray(logits(model)(images, training=False)), expected, rtol=1e-3, atol=1e-3)
