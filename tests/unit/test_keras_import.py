"""pipeline.keras_import: .keras, legacy Keras 2 .h5, SavedModel, weights-only files and refusals."""
import json

import h5py
import keras
import numpy as np
import pytest

from mnd.base.errors import ModelError
from mnd.pipeline.model.keras_builder import create_model
from mnd.pipeline.sources.keras_file import load_keras_model, load_weights_into, patch_legacy_config

TINY = "mobilenet_v1_025_32"


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    return create_model(TINY, classes=3, channels=1)


def _images(model, n=2):
    return np.random.default_rng(0).random((n, *model.input_shape[1:]), dtype=np.float32)


def _one_line_error(call, *args) -> str:
    with pytest.raises(ModelError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


def _write_legacy_weights(model, path):
    """Keras 2 weights-only layout written with h5py: layer_names, and weight_names per layer."""
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in model.layers:
            group = file.create_group(layer.name)
            names = [f"{layer.name}/{weight.name}:0".encode() for weight in layer.weights]
            group.attrs["weight_names"] = names
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name.decode(), data=weight.numpy())


def _lambda_model():
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(outputs))


def test_keras_file_round_trip(tiny, tmp_path):
    tiny.save(tmp_path / "m.keras")
    model = load_keras_model(tmp_path / "m.keras")
    x = _images(tiny)
    np.testing.assert_allclose(model.predict(x, verbose=0), tiny.predict(x, verbose=0), atol=1e-6)


def test_legacy_groups_key_dropped_only_when_1():
    config = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "DepthwiseConv2D", "config": {"name": "dw", "groups": 1, "kernel_size": [3, 3]}},
        {"class_name": "Conv2D", "config": {"name": "c", "groups": 1}}]}}
    assert patch_legacy_config(config) == ["dw.groups"]
    assert "groups" not in config["config"]["layers"][0]["config"]
    assert config["config"]["layers"][1]["config"]["groups"] == 1  # Keras 3 Conv2D still takes groups
    config["config"]["layers"][0]["config"]["groups"] = 2
    with pytest.raises(ModelError, match="groups=2"):
        patch_legacy_config(config)


@pytest.mark.slow
@pytest.mark.assets
def test_mlperf_vww_h5_matches_its_tflite(assets):
    from mnd.base.runtimes.sandbox import run_model

    folder = assets / "mlperf_vww"
    model = load_keras_model(folder / "vww_96.h5")
    assert model.count_params() == 221_794
    assert model.input_shape == (None, 96, 96, 3)
    files = sorted((assets / "vww_dev" / "bin").glob("*.bin"))[:6]
    x = np.stack([np.fromfile(f, np.uint8).reshape(96, 96, 3) for f in files]).astype(np.float32) / 255.0
    reference = run_model("litert", folder / "vww_96_float.tflite", x).outputs.reshape(len(files), 2)
    np.testing.assert_allclose(model.predict(x, verbose=0), reference, atol=1e-4)


def test_keras3_weights_only_file_asks_for_arch(tiny, tmp_path):
    tiny.save_weights(tmp_path / "x.weights.h5")
    assert "--arch mobilenet_v1_025_96" in _one_line_error(load_keras_model, tmp_path / "x.weights.h5")


def test_h5py_weights_only_file_asks_for_arch(tiny, tmp_path):
    _write_legacy_weights(tiny, tmp_path / "w.h5")
    assert "--arch mobilenet_v1_025_96" in _one_line_error(load_keras_model, tmp_path / "w.h5")


@pytest.mark.parametrize("layout", ["keras3", "legacy"])
def test_load_weights_into_registry_architecture(layout, tmp_path):
    keras.utils.set_random_seed(1)
    source = create_model(TINY, classes=3)
    path = tmp_path / ("w.weights.h5" if layout == "keras3" else "w.h5")
    source.save_weights(path) if layout == "keras3" else _write_legacy_weights(source, path)
    model = load_weights_into(path, TINY, classes=3)
    for mine, theirs in zip(model.weights, source.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    message = _one_line_error(load_weights_into, path, TINY, 5)
    assert "'logits'" in message and "do not fit" in message


@pytest.mark.assets
def test_load_weights_into_names_first_mismatch(assets):
    message = _one_line_error(load_weights_into, assets / "mlperf_vww" / "vww_96.h5", "mobilenet_v1_025_96", 2)
    assert "'conv_0'" in message and "'conv2d'" in message  # vww's convolutions carry biases, ours do not


@pytest.mark.slow
def test_saved_model_directory_becomes_keras_model(tiny, tmp_path):
    tiny.export(tmp_path / "sm", verbose=False)
    model = load_keras_model(tmp_path / "sm")
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 3)
    x = _images(tiny)
    np.testing.assert_allclose(np.asarray(model(x)), tiny.predict(x, verbose=0), atol=1e-5)


def test_directory_without_saved_model_is_refused(tmp_path):
    assert "saved_model.pb" in _one_line_error(load_keras_model, tmp_path)


def test_lambda_in_keras_file_refused(tmp_path):
    _lambda_model().save(tmp_path / "l.keras")
    message = _one_line_error(load_keras_model, tmp_path / "l.keras")
    assert "Lambda layer" in message and "arbitrary Python code" in message and "without Lambda" in message


def test_lambda_in_legacy_h5_refused_before_deserializing(tmp_path, monkeypatch):
    _lambda_model().save(tmp_path / "l.h5")
    assert "Lambda" in json.loads(h5py.File(tmp_path / "l.h5", "r").attrs["model_config"])["config"]["layers"][1][
        "class_name"]

    def no_deserializing(*args, **kwargs):
        raise AssertionError("deserialized an untrusted file")

    monkeypatch.setattr(keras.models, "load_model", no_deserializing)
    assert "arbitrary Python code" in _one_line_error(load_keras_model, tmp_path / "l.h5")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_truncated_file_is_reported_as_incomplete(tiny, tmp_path, suffix):
    full = tmp_path / f"full{suffix}"
    tiny.save(full)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    message = _one_line_error(load_keras_model, cut)
    assert message.startswith(f"cannot load '{cut}'") and "is the file complete?" in message


def test_non_image_input_is_refused(tmp_path):
    inputs = keras.Input((10,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "d.keras")
    message = _one_line_error(load_keras_model, tmp_path / "d.keras")
    assert "takes input (None, 10)" in message and "[batch, side, side, 1 or 3]" in message


def test_missing_and_unsupported_files(tmp_path):
    assert "not found" in _one_line_error(load_keras_model, tmp_path / "nope.keras")
    (tmp_path / "m.onnx").write_bytes(b"x")
    assert "supported are" in _one_line_error(load_keras_model, tmp_path / "m.onnx")
