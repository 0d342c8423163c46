"""quantize.fold_batchnorm, equalize, bias_correct and float_prep: float-model transforms before int8 conversion."""
import keras
import numpy as np
import pytest
from keras import layers

from mnd.base.errors import ModelError, UsageError
from mnd.pipeline.model.keras_builder import create_model
from mnd.pipeline.sources.keras_file import load_keras_model
from mnd.quantize import equalize as eq
from mnd.quantize.bias_correct import bias_correct
from mnd.quantize.float_prep import prepare_for_int8
from mnd.quantize.fold_batchnorm import fold_batchnorm
from mnd.quantize.weight_quant import fake_quantized, reduced_axes

TINY = "mobilenet_v1_025_32"


def randomized(model, seed: int = 0):
    """Weights with output-channel ranges spread over 16x and batch-norm statistics far from the identity; gains
    below 1 keep float rounding from growing through the depth."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            size = layer.gamma.shape[0]
            variance = rng.uniform(0.2, 2.0, size)
            gamma = np.sqrt(variance) * rng.uniform(0.3, 1.0, size) * rng.choice([-1, 1], size)
            layer.set_weights([gamma, rng.normal(0, 0.3, size), rng.normal(0, 0.3, size), variance])
        elif isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            kernel, *rest = layer.get_weights()
            fan_in = np.prod(kernel.shape[:2]) * (1 if isinstance(layer, layers.DepthwiseConv2D) else kernel.shape[-2])
            channel_scale = 2.0 ** rng.uniform(-2, 2, kernel.shape[2:] if isinstance(
                layer, layers.DepthwiseConv2D) else kernel.shape[-1:])
            kernel = rng.normal(0, np.sqrt(2.0 / fan_in), kernel.shape) * channel_scale
            layer.set_weights([kernel, *(rng.normal(0, 0.1, weight.shape) for weight in rest)])
    return model


def images(model, count: int = 8, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((count, *model.input_shape[1:]), dtype=np.float32)


def logits(model, x: np.ndarray) -> np.ndarray:
    """The output before a final Softmax layer (whose saturation would hide differences)."""
    last = model.layers[-1]
    if isinstance(last, layers.Softmax):
        model = keras.Model(model.inputs[0], model.layers[-2].output)
    return np.asarray(model(x), dtype=np.float64)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


@pytest.fixture(scope="module")
def tiny_relu6():
    keras.utils.set_random_seed(0)
    return randomized(create_model(TINY, classes=3))


@pytest.fixture(scope="module")
def tiny_relu():
    keras.utils.set_random_seed(0)
    return randomized(create_model(TINY, classes=3, activation="relu"), seed=2)


def test_folding_removes_batchnorm_and_keeps_outputs(tiny_relu6):
    folded = fold_batchnorm(tiny_relu6)
    assert not [layer for layer in folded.layers if isinstance(layer, layers.BatchNormalization)]
    convs = [layer for layer in folded.layers if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D))]
    assert convs and all(layer.use_bias for layer in convs)
    x = images(tiny_relu6)
    assert relative_difference(logits(tiny_relu6, x), logits(folded, x)) < 1e-5


def test_batchnorm_not_after_a_conv_is_kept():
    inputs = keras.Input((6, 6, 3))
    x = layers.BatchNormalization(name="input_bn")(inputs)
    x = layers.Conv2D(4, 3, name="conv")(x)
    x = layers.ReLU()(x)
    x = layers.BatchNormalization(name="after_relu_bn")(x)
    model = randomized(keras.Model(inputs, x))
    folded = fold_batchnorm(model)
    assert [layer.name for layer in folded.layers if isinstance(layer, layers.BatchNormalization)] == [
        "input_bn", "after_relu_bn"]
    x = images(model)
    assert relative_difference(logits(model, x), logits(folded, x)) < 1e-5


def residual_model():
    """A V2-like block and a V3-like squeeze-and-excite block: residual ADD, MULTIPLY, keras.ops arithmetic."""
    inputs = keras.Input((8, 8, 4))
    x = layers.Conv2D(4, 1, use_bias=False, name="expand")(inputs)
    x = layers.ReLU(6.0, name="expand_relu")(layers.BatchNormalization(name="expand_bn")(x))
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = layers.ReLU(name="dw_relu")(layers.BatchNormalization(name="dw_bn")(x))
    x = layers.BatchNormalization(name="project_bn")(layers.Conv2D(4, 1, use_bias=False, name="project")(x))
    x = layers.Add(name="residual")([inputs, x])
    y = layers.DepthwiseConv2D(3, padding="same", name="se_dw")(x)
    y = layers.ReLU(name="se_dw_relu")(y)
    gate = layers.Conv2D(4, 1, name="se_conv")(layers.GlobalAveragePooling2D(keepdims=True, name="se_pool")(y))
    gate = layers.ReLU(6.0)(gate + 3.0) * (1.0 / 6.0)
    y = layers.Multiply(name="se_mul")([y, gate])
    y = layers.Conv2D(4, 1, name="se_project")(y)
    return randomized(keras.Model(inputs, layers.GlobalAveragePooling2D()(y)))


def test_residual_graph_folds_equalizes_chains_only_and_keeps_outputs():
    model = residual_model()
    x = images(model)
    folded = fold_batchnorm(model)
    assert not [layer for layer in folded.layers if isinstance(layer, layers.BatchNormalization)]
    assert relative_difference(logits(model, x), logits(folded, x)) < 1e-5
    equalized, records = eq.equalize(folded, x)
    assert [(record.depthwise, record.pointwise) for record in records] == [("dw", "project"), ("se_dw", "se_pool")]
    assert records[0].action == eq.EQUALIZED and records[0].rescaled_channels == 4
    np.testing.assert_allclose(eq.channel_ranges(equalized.get_layer("dw").get_weights()[0]),
                               np.abs(equalized.get_layer("project").get_weights()[0]).max(axis=(0, 1, 3)), rtol=1e-5)
    assert records[1].action == f"{eq.NOT_A_CHAIN}: 'se_dw_relu' is read by 'se_pool', 'se_mul'"
    np.testing.assert_array_equal(equalized.get_layer("se_dw").get_weights()[0],
                                  folded.get_layer("se_dw").get_weights()[0])
    assert relative_difference(logits(model, x), logits(equalized, x)) < 1e-4
    corrected, corrections = bias_correct(equalized, images(model, 32, seed=4))
    assert {record.layer for record in corrections} == {"expand", "dw", "project", "se_dw", "se_conv", "se_project"}
    assert 0 < relative_difference(logits(model, x), logits(corrected, x)) < 0.05


def test_shared_layer_is_refused_naming_it():
    inputs = keras.Input((8, 8, 3))
    shared = layers.Conv2D(3, 3, padding="same", name="shared")
    with pytest.raises(ModelError, match="'shared'.*called 2 times"):
        fold_batchnorm(keras.Model(inputs, shared(shared(inputs))))


def test_equalizing_relu_pairs_keeps_outputs_and_narrows_ranges(tiny_relu):
    folded = fold_batchnorm(tiny_relu)
    x = images(tiny_relu)
    equalized, records = eq.equalize(folded, x)
    assert len(records) == 13 and {record.action for record in records} == {eq.EQUALIZED}
    assert all(record.spread_after < record.spread_before for record in records)
    for record in records:
        ranges = [eq.channel_ranges(equalized.get_layer(record.depthwise).get_weights()[0]),
                  np.abs(equalized.get_layer(record.pointwise).get_weights()[0]).max(axis=(0, 1, 3))]
        np.testing.assert_allclose(ranges[0], ranges[1], rtol=1e-5)
    assert relative_difference(logits(folded, x), logits(equalized, x)) < 1e-4


def clipped_pairs_model(seed: int = 3):
    """Two depthwise -> ReLU6 -> pointwise pairs: the first stays far below 6, the second's channels 0 and 1 are
    pushed above it."""
    inputs = keras.Input((8, 8, 4))
    x = inputs
    for index, activation in enumerate([layers.ReLU(max_value=6.0, name="quiet_relu6"),
                                        layers.Activation("relu6", name="loud_relu6")]):
        x = layers.DepthwiseConv2D(3, padding="same", name=f"dw{index}")(x)
        x = activation(x)
        x = layers.Conv2D(4, 1, name=f"pw{index}")(x)
    model = randomized(keras.Model(inputs, x), seed)
    for name, gain, offset in (("dw0", 0.1, 0.0), ("dw1", np.array([20.0, 20, 0.1, 0.1]), np.array([5.0, 5, 0, 0]))):
        kernel, bias = model.get_layer(name).get_weights()
        model.get_layer(name).set_weights([kernel * np.reshape(gain, (-1, 1)), bias + offset])
    return model


def test_clipped_relu_is_replaced_where_it_never_binds_and_left_where_it_does():
    model = clipped_pairs_model()
    x = images(model, 16)
    equalized, (quiet, loud) = eq.equalize(model, x)
    assert quiet.action == eq.RELU6_TO_RELU and quiet.spread_after < quiet.spread_before
    assert equalized.get_layer("quiet_relu6").max_value is None
    assert loud.action == eq.CLIP_BINDS and 0 < loud.clipped_fraction < 1 and "binds" in loud.line()
    assert equalized.get_layer("loud_relu6").get_config()["activation"] == "relu6"
    for name in ("dw1", "pw1"):
        for before, after in zip(model.get_layer(name).get_weights(), equalized.get_layer(name).get_weights()):
            np.testing.assert_array_equal(before, after)
    assert relative_difference(logits(model, x), logits(equalized, x)) < 1e-4


def test_binding_clip_equalizes_only_channels_that_stay_below_it():
    model = clipped_pairs_model()
    x = images(model, 16)
    equalized, (_, loud) = eq.equalize(model, x, partial=True)
    assert loud.action == eq.PARTIAL and 0 < loud.rescaled_channels < loud.channels
    assert equalized.get_layer("loud_relu6").get_config()["activation"] == "relu6"
    before = np.asarray(keras.Model(model.inputs[0], model.get_layer("dw1").output)(x)).max(axis=(0, 1, 2))
    after = np.asarray(keras.Model(equalized.inputs[0], equalized.get_layer("dw1").output)(x)).max(axis=(0, 1, 2))
    binding = before > 6
    np.testing.assert_allclose(after[binding], before[binding], rtol=1e-6)
    assert np.all(after[~binding] <= 6 + 1e-5)
    assert relative_difference(logits(model, x), logits(equalized, x)) < 1e-4


def test_clipped_pairs_in_mnd_mobilenet_keep_outputs(tiny_relu6):
    folded = fold_batchnorm(tiny_relu6)
    x = images(tiny_relu6)
    for partial, binding in ((False, eq.CLIP_BINDS), (True, eq.PARTIAL)):
        equalized, records = eq.equalize(folded, x, partial=partial)
        assert len(records) == 13 and {record.action for record in records} <= {eq.RELU6_TO_RELU, binding}
        assert relative_difference(logits(folded, x), logits(equalized, x)) < 1e-4


def test_fake_quantization_matches_tflite_rules():
    step = 2.0 ** -4  # channel 0's scale, max|w| / 127, exact in binary
    kernel = np.zeros((1, 2, 2, 1))
    kernel[0, :, 0, 0] = [127 * step, -2.5 * step]  # half a step: rounds away from zero, to -3 steps
    kernel[0, :, 1, 0] = [0.3, 0.0]
    per_channel = fake_quantized(kernel, reduced_axes(layers.DepthwiseConv2D, kernel, "per-channel"))
    np.testing.assert_array_equal(per_channel[0, :, 0, 0], [127 * step, -3 * step])
    assert per_channel[0, 0, 1, 0] == pytest.approx(0.3)
    per_tensor = fake_quantized(kernel, reduced_axes(layers.DepthwiseConv2D, kernel, "per-tensor"))
    assert per_tensor[0, 0, 1, 0] == round(0.3 / step) * step
    assert reduced_axes(layers.Conv2D, np.zeros((3, 3, 4, 8)), "per-channel") == (0, 1, 2)


def quantized_layer_error(model, corrected, name: str, x: np.ndarray) -> np.ndarray:
    """Per output channel: mean over the inputs of (fake-quantized layer of `corrected` - float layer of `model`)."""
    layer = model.get_layer(name)
    layer_input = np.asarray(keras.Model(model.inputs[0], layer.input)(x))
    quantized = type(layer).from_config(layer.get_config())
    quantized.build(layer_input.shape)
    kernel, bias = corrected.get_layer(name).get_weights()
    quantized.set_weights([fake_quantized(kernel, reduced_axes(type(layer), kernel, "per-tensor")), bias])
    difference = np.asarray(quantized(layer_input), np.float64) - np.asarray(layer(layer_input), np.float64)
    return difference.reshape(-1, difference.shape[-1]).mean(axis=0)


def test_bias_correction_brings_the_quantized_output_mean_back_to_float(tiny_relu):
    folded = fold_batchnorm(tiny_relu)
    x = images(tiny_relu, 16)
    corrected, records = bias_correct(folded, x, weights="per-tensor")
    assert len(records) == 28 and all(np.isfinite(record.relative_to_output_std) for record in records)
    for name in ("conv_0", "dw_1", "pw_2", "dw_25"):
        before = np.abs(quantized_layer_error(folded, folded, name, x)).mean()
        after = np.abs(quantized_layer_error(folded, corrected, name, x)).mean()
        assert after < 0.05 * before, (name, before, after)


def test_prepare_for_int8_runs_the_steps_in_order(tiny_relu6):
    x = images(tiny_relu6)
    same, notes = prepare_for_int8(tiny_relu6, x, weights="per-tensor", equalize=False, bias_correct=False)
    assert same is tiny_relu6 and not notes.lines
    prepared, notes = prepare_for_int8(tiny_relu6, x, weights="per-tensor", equalize=True, bias_correct=True)
    assert len(notes.equalization) == 13 and len(notes.bias_correction) == 28
    assert notes.lines[0].startswith("batch norm folded") and all("\n" not in line for line in notes.lines)
    assert not [layer for layer in prepared.layers if isinstance(layer, layers.BatchNormalization)]
    with pytest.raises(UsageError, match="per-tensor"):
        prepare_for_int8(tiny_relu6, x, weights="per_tensor", equalize=True, bias_correct=False)


@pytest.mark.assets
def test_mlperf_vww_folds_and_equalizes_exactly(assets):
    model = load_keras_model(assets / "mlperf_vww" / "vww_96.h5")
    files = sorted((assets / "vww_dev" / "bin").glob("*.bin"))[:16]
    x = np.stack([np.fromfile(file, np.uint8).reshape(96, 96, 3) for file in files]).astype(np.float32) / 255.0
    folded = fold_batchnorm(model)
    equalized, records = eq.equalize(folded, x)
    assert [record.action for record in records] == [eq.EQUALIZED] * 13
    assert sum(record.spread_after < record.spread_before for record in records) >= 10
    reference = np.asarray(model([x]))  # the loaded model takes a list of one input
    assert relative_difference(reference, np.asarray(folded(x))) < 1e-5
    assert relative_difference(reference, np.asarray(equalized(x))) < 1e-4


def test_bias_correction_auto_is_off_naming_why_for_a_frozen_graph(tmp_path):
    """A SavedModel is wrapped as one non-Keras layer: nothing to take apart, auto says so instead of failing."""
    from mnd.quantize.bias_choice import choose_bias_correction
    from mnd.quantize.config import QuantConfig

    class Opaque(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, Opaque(name="frozen")(inputs))
    choice = choose_bias_correction(None, model, images(model, 32), QuantConfig(), tmp_path)
    assert not choice.applied and "layer 'frozen' of class Opaque" in choice.line()
    with pytest.raises(ModelError, match="not a Keras layer mnd can rebuild"):
        prepare_for_int8(model, images(model), weights="per-channel", equalize=False, bias_correct=True)
