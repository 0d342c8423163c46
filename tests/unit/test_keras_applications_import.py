"""Keras Applications MobileNetV2 / MobileNetV3Small files (weights=None, nothing downloaded): their preprocessing
read from the model, their residual graphs prepared for int8, and a trained V3 Small exported to the host target."""
import json

import keras
import numpy as np
import pytest
from PIL import Image

from mnd.base.errors import ModelError
from mnd.pipeline.model.keras_builder import create_model
from mnd.pipeline.sources.keras_file import load_keras_model
from mnd.pipeline.sources.resolve import keras_input_mode
from mnd.quantize import equalize as eq
from mnd.quantize.float_prep import prepare_for_int8
from tests.cli.test_export_cli import KERAS_EXPORT_KINDS
from tests.conftest import run_mnd

SIDE = 32


def stripes(count: int = 64, seed: int = 0) -> tuple:
    """(uint8 images, labels): noisy horizontal (0) or vertical (1) stripes, a task two epochs learn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    rows, columns = np.mgrid[:SIDE, :SIDE]
    pixels = [((((columns if label else rows) // 4) % 2)[..., None] * 120 + 60
               + rng.integers(0, 60, (SIDE, SIDE, 3))).clip(0, 255).astype(np.uint8) for label in labels]
    return np.stack(pixels), labels


@pytest.fixture(scope="session")
def applications(tmp_path_factory):
    """Untrained V2 (alpha 0.35) and V3 Small (alpha 0.75) as .keras and .h5 files."""
    folder = tmp_path_factory.mktemp("applications")
    keras.utils.set_random_seed(0)
    v2 = keras.applications.MobileNetV2(input_shape=(SIDE, SIDE, 3), alpha=0.35, weights=None, classes=2)
    v3 = keras.applications.MobileNetV3Small(input_shape=(SIDE, SIDE, 3), alpha=0.75, weights=None, classes=2)
    for name, model in (("v2", v2), ("v3", v3)):
        model.save(folder / f"{name}.keras")
        model.save(folder / f"{name}.h5")
    return folder


def test_preprocessing_is_read_from_the_model(applications):
    assert keras_input_mode(load_keras_model(applications / "v2.h5")) == "signed"
    assert keras_input_mode(load_keras_model(applications / "v2.keras")) == "signed"
    assert keras_input_mode(load_keras_model(applications / "v3.keras")) == "raw"  # its own Rescaling layer
    assert keras_input_mode(create_model("mobilenet_v1_025_32", classes=2)) == "unit"


def test_keras3_h5_of_v3_is_refused_naming_the_fix(applications):
    with pytest.raises(ModelError) as info:
        load_keras_model(applications / "v3.h5")
    assert "save the model as .keras" in str(info.value) and "\n" not in str(info.value)


def test_v2_residual_graph_is_folded_and_equalized_exactly(applications):
    model = load_keras_model(applications / "v2.h5")
    pixels, _ = stripes(16)
    x = pixels.astype(np.float32) / 127.5 - 1
    prepared, notes = prepare_for_int8(model, x, weights="per-channel", equalize=True, bias_correct=False)
    assert not [layer for layer in prepared.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(notes.equalization) == 17  # one depthwise -> ReLU6 -> project pair per bottleneck, all chains
    assert all(not record.action.startswith(eq.NOT_A_CHAIN) for record in notes.equalization)
    np.testing.assert_allclose(prepared.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


@pytest.fixture(scope="session")
def trained_v3(tmp_path_factory):
    """A V3 Small trained two epochs on stripes (batch-norm statistics from one pass), and the stripes as a folder."""
    folder = tmp_path_factory.mktemp("trained_v3")
    pixels, labels = stripes()
    for index, (image, label) in enumerate(zip(pixels, labels)):
        (folder / "data" / f"class{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / "data" / f"class{label}" / f"{index:03d}.png")
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV3Small(input_shape=(SIDE, SIDE, 3), alpha=0.75, weights=None, classes=2)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(pixels.astype(np.float32), labels, epochs=2, batch_size=16, verbose=0)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0
    model(pixels.astype(np.float32), training=True)
    model.save(folder / "v3.keras")
    return folder


@pytest.mark.slow
def test_trained_v3_small_exports_to_host_with_every_validation_passing(trained_v3, tmp_path):
    out = tmp_path / "out"
    run_mnd("export", "--model", trained_v3 / "v3.keras", "--target", "host", "--calib", trained_v3 / "data",
            "--eval", trained_v3 / "data", "--out", out, "--runs", "2", "--warmup", "0", check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(KERAS_EXPORT_KINDS) <= {artifact["kind"] for artifact in manifest["artifacts"]}
    assert manifest["model"]["preprocessing"]["mode"] == "raw"
    checks = {check["name"]: check for check in manifest["validations"]}
    assert all(check["passed"] for check in checks.values()) and len(checks) == 5, checks
    assert checks["tflm (from .cc) vs litert reference"]["value"] == 0
    accuracy = {(m["runtime"], m["artifact"]): m["accuracy"] for m in manifest["measurements"]}
    assert accuracy[("litert", "tflite_float")] >= 0.9 and accuracy[("tflm", "tflm_c_source")] >= 0.9, accuracy


@pytest.mark.slow
def test_quantize_report_says_which_pairs_were_equalized_and_which_skipped(trained_v3, tmp_path):
    out = tmp_path / "report"
    run_mnd("quantize-report", "--model", trained_v3 / "v3.keras", "--calib", trained_v3 / "data", "--eval",
            trained_v3 / "data", "--equalize", "--no-bias-correct", "--out", out, check=0)
    pairs = json.loads((out / "quantization.json").read_text())["schemes"][0]["float_model_changes"]["equalization"]
    actions = {pair["depthwise"]: pair["action"] for pair in pairs}
    assert actions["expanded_conv_1_depthwise"] == eq.EQUALIZED  # depthwise -> ReLU -> project, a chain
    assert actions["expanded_conv_depthwise"].startswith(eq.NOT_A_CHAIN)  # its ReLU also feeds squeeze-and-excite
    assert "is read by 'expanded_conv_squeeze_excite_avg_pool', 'expanded_conv_squeeze_excite_mul'" in pairs[0]["line"]
    report = (out / "quantization.md").read_text()
    assert all(f"- {pair['line']}" in report for pair in pairs) and len(pairs) == 11
