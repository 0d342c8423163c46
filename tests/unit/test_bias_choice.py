"""quantize.bias_choice through quantize.int8_model: bias correction "auto" is fitted on half the calibration inputs,
checked on the other half against the float model, and kept only where it lowers the int8 output error there."""
import keras
import numpy as np
import pytest

from mnd.quantize.bias_choice import MIN_DROP_IN_STANDARD_ERRORS, MIN_HALF, paired_drop
from mnd.quantize.config import QuantConfig
from mnd.quantize.int8_model import build_int8
from mnd.quantize.int8_outputs import dequantized_outputs, squared_error_per_input
from tests.unit.test_float_prep import images, randomized

PER_TENSOR = QuantConfig(weights="per-tensor")  # bias_correct None: auto


@pytest.fixture(scope="module")
def spread_model():
    """Convolution -> depthwise -> pointwise with a linear output and output-channel weight ranges spread over 16x:
    per-tensor int8 weights shift each layer's mean output, and nothing after the last layer hides it."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
                              keras.layers.DepthwiseConv2D(3, activation="relu", name="dw"),
                              keras.layers.Conv2D(6, 1, name="pw")])
    return randomized(model, seed=2)


def test_auto_keeps_a_correction_that_lowers_the_held_out_error(spread_model, tmp_path):
    x = images(spread_model, 32)
    built = build_int8(spread_model, x, PER_TENSOR, tmp_path)
    choice = built.bias_choice
    assert choice.mode == "auto" and (choice.fit_samples, choice.check_samples) == (16, 16)
    assert choice.error_with < choice.error_without and choice.applied, choice
    assert built.quant.bias_correct is True and built.records["bias_correction"], "the export is bias-corrected"
    assert "kept (auto)" in built.notes[-1] and "16 held-out" in built.notes[-1]
    # the recorded errors are the check models' own: rebuilt by hand from the fit half, they measure the same
    fixed = build_int8(spread_model, x[0::2], QuantConfig(weights="per-tensor", bias_correct=True), tmp_path / "on")
    path = tmp_path / "on.tflite"
    path.write_bytes(fixed.tflite)
    reference = np.asarray(spread_model.predict(x[1::2], verbose=0), np.float64)
    errors = squared_error_per_input(reference, dequantized_outputs(path, x[1::2]))
    assert errors.mean() == pytest.approx(choice.error_with)
    assert choice.drop_in_standard_errors > MIN_DROP_IN_STANDARD_ERRORS


def test_auto_leaves_it_off_without_enough_inputs_to_check_it(spread_model, tmp_path):
    x = images(spread_model, 2 * MIN_HALF - 1)
    built = build_int8(spread_model, x, PER_TENSOR, tmp_path)
    assert not built.bias_choice.applied and built.bias_choice.error_with is None
    assert built.quant.bias_correct is False and "--bias-correct forces it" in built.notes[-1]
    assert not list(tmp_path.glob("bias_check_*")), "no check models were built"


def test_auto_checks_a_residual_model_like_any_other(tmp_path):
    """MobileNet V2/V3 are not chains (ADD, squeeze-and-excite MUL): quantize/graph.py rebuilds them, so auto fits
    and checks the correction on them as on a chain."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((16, 16, 3))
    conv = keras.layers.Conv2D(3, 3, padding="same", name="conv")(x_in)
    model = keras.Model(x_in, keras.layers.Add(name="residual")([x_in, conv]))
    built = build_int8(model, images(model, 32), PER_TENSOR, tmp_path)
    choice = built.bias_choice
    assert choice.mode == "auto" and choice.error_with is not None and choice.error_without is not None
    assert choice.applied is (choice.drop_in_standard_errors > 2) is built.quant.bias_correct
    assert len(list(tmp_path.glob("bias_check_*.tflite"))) == 2  # with and without the correction


def test_a_fixed_setting_builds_no_check_models(spread_model, tmp_path):
    built = build_int8(spread_model, images(spread_model, 32), QuantConfig(bias_correct=False), tmp_path)
    assert built.bias_choice.mode == "off" and not built.bias_choice.applied
    assert built.notes == ["bias correction off (--no-bias-correct)"]
    assert not list(tmp_path.glob("bias_check_*"))


def test_the_drop_counts_only_beyond_the_checks_own_noise():
    rng = np.random.default_rng(0)
    before = rng.uniform(1.0, 2.0, 100)
    assert paired_drop(before, before) == 0.0
    assert paired_drop(before, before - 0.1) > 1e6, "every input improved alike: certain"
    assert paired_drop(before, before * 0.5) > 10
    noisy = before * rng.uniform(0.5, 1.5, 100)  # as many inputs worse as better
    assert abs(paired_drop(before, noisy)) < MIN_DROP_IN_STANDARD_ERRORS
    assert paired_drop(before, before * 1.2) < -10
