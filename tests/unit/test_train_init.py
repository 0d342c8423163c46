"""`mnd train --init`: Keras Applications' weights loaded into our backbone tensor for tensor, the two phases
(backbone frozen, then everything), what the manifest records, and the one-line refusals."""
import json

import h5py
import numpy as np
import pytest

from mnd.base.errors import UsageError
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.model import init_weights
from mnd.pipeline.model.keras_builder import build_model
from mnd.pipeline.model.registry import parse_model_name
from mnd.pipeline.training.array_data import ArrayTrainingData
from mnd.pipeline.training.augment import Augmentation
from mnd.pipeline.training.fit import TrainConfig
from mnd.pipeline.training.loop import train

V1_025_FILE = "keras_mobilenet_025_notop/mobilenet_2_5_224_tf_no_top.h5"


@pytest.fixture(scope="module")
def v1_025_file(assets):
    return assets / V1_025_FILE


@pytest.fixture(scope="module")
def photos(assets, tmp_path_factory):
    """A small image folder: 16 vww_dev photos per class (person / no person) as PNG files."""
    from PIL import Image

    root = tmp_path_factory.mktemp("photos")
    counts = {}
    for row in (assets / "vww_dev" / "y_labels.csv").read_text().split():
        name, _, label = row.split(",")
        folder = root / ("person" if label == "1" else "no_person")
        if counts.get(folder, 0) < 16:
            folder.mkdir(exist_ok=True)
            pixels = np.fromfile(assets / "vww_dev" / "bin" / name, dtype=np.uint8).reshape(96, 96, 3)
            Image.fromarray(pixels).save(folder / name.replace(".bin", ".png"))
            counts[folder] = counts.get(folder, 0) + 1
    return root


def test_the_file_loads_bit_for_bit_into_our_v1_backbone(v1_025_file):
    spec = parse_model_name("mobilenet_v1_025_96", classes=2)
    model = build_model(spec)
    loaded = init_weights.load_into(model, spec, init_weights.resolve(str(v1_025_file), spec))
    assert loaded == 54
    with h5py.File(v1_025_file) as file:
        pairs = {"conv_0": "conv1/conv1/kernel:0", "dw_1": "conv_dw_1/conv_dw_1/depthwise_kernel:0",
                 "pw_26": "conv_pw_13/conv_pw_13/kernel:0"}
        for ours, theirs in pairs.items():
            assert np.array_equal(model.get_layer(ours).get_weights()[0], file[theirs][()])
        assert np.array_equal(model.get_layer("pw_26_bn").get_weights()[3],
                              file["conv_pw_13_bn/conv_pw_13_bn/moving_variance:0"][()])


def test_a_file_of_another_alpha_is_refused_naming_it(v1_025_file):
    spec = parse_model_name("mobilenet_v1_050_96", classes=2)
    with pytest.raises(UsageError, match=r"does not fit mobilenet_v1_050_96: .*conv1.*MobileNet v1 alpha 0.25"):
        init_weights.load_into(build_model(spec), spec, init_weights.resolve(str(v1_025_file), spec))


@pytest.mark.parametrize("name, application", [
    ("mobilenet_v2_035_96", lambda k: k.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35,
                                                                 include_top=False, weights=None)),
    ("mobilenet_v3_small_075_96", lambda k: k.applications.MobileNetV3Small(
        input_shape=(96, 96, 3), alpha=0.75, include_top=False, weights=None, include_preprocessing=False)),
])
def test_keras_applications_v2_v3_backbones_map_layer_for_layer(name, application):
    """Keras Applications' no-top V2/V3, built here without weights: every weighted layer, in order, fits ours."""
    import keras

    reference = application(keras)
    layers = [(layer.name, layer.get_weights()) for layer in reference.layers if layer.weights]
    spec = parse_model_name(name, classes=2)
    model = build_model(spec)
    assert init_weights.load_into(model, spec, init_weights.InitWeights(layers, {"path": "reference"})) == len(layers)
    assert np.array_equal(init_weights.backbone_layers(model)[-1].get_weights()[0], layers[-1][1][0])


def test_imagenet_file_names_follow_keras_applications():
    assert init_weights.imagenet_file(parse_model_name("mobilenet_v1_025_96"))[1] == (
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/mobilenet_2_5_224_tf_no_top.h5")
    assert init_weights.imagenet_file(parse_model_name("mobilenet_v2_035_96"))[0] == (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5")
    assert init_weights.imagenet_file(parse_model_name("mobilenet_v3_large_100_224_minimalistic"))[0] == (
        "weights_mobilenet_v3_large_minimalistic_224_1.0_float_no_top_v2.h5")


def test_phase_one_keeps_the_backbone_and_phase_two_trains_all_but_its_batch_norm(v1_025_file):
    spec = parse_model_name("mobilenet_v1_025_32", classes=2)
    rng = np.random.default_rng(0)
    data = Dataset("noise", rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8), np.arange(32) % 2, ("a", "b"))
    init = init_weights.resolve(str(v1_025_file), spec)
    snapshots = []

    def backbone(model, _record):
        snapshots.append([w.copy() for layer in init_weights.backbone_layers(model) for w in layer.get_weights()])

    prep = Preprocessing("signed", 32, 3)
    train(spec, prep, ArrayTrainingData(data, data.subset(np.arange(8)), prep, Augmentation(max_shift=2), seed=0),
          TrainConfig(epochs=2, frozen_epochs=1, batch_size=16), on_epoch_end=backbone, init=init)
    original = [a for _, arrays in init.layers for a in arrays]
    is_norm = [name.endswith("_bn") for name, arrays in init.layers for _ in arrays]
    assert all(np.array_equal(a, b) for a, b in zip(snapshots[0], original))
    changed = [not np.array_equal(a, b) for a, b in zip(snapshots[1], original)]
    assert any(changed) and not any(c for c, norm in zip(changed, is_norm) if norm)


def test_cli_records_init_schedule_and_signed_preprocessing(mnd, photos, v1_025_file, tmp_path):
    out = tmp_path / "run"
    mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", photos, "--out", out, "--epochs", "2",
        "--frozen-epochs", "1", "--init", v1_025_file, check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["init"]["source"] == "file" and manifest["init"]["layers_loaded"] == 54
    assert manifest["init"]["sha256"] == "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf"
    first, second = manifest["training"]["phases"]
    assert first["epochs"] == 1 and first["frozen"].startswith("backbone") and "batch norm" in second["frozen"]
    assert second["learning_rate"] == pytest.approx(first["learning_rate"] * 0.01)
    assert manifest["preprocessing"]["mode"] == "signed"
    assert json.loads((out / "preprocessing.json").read_text())["mode"] == "signed"
    from mnd.pipeline.sources.resolve import from_run_dir

    assert from_run_dir(out).prep.mode == "signed"  # what export and measurement read


def test_cli_refuses_a_mismatched_file_in_one_line_writing_nothing(mnd, photos, v1_025_file, tmp_path):
    result = mnd("train", "--model", "mobilenet_v1_050_32", "--dataset", photos, "--out",
                 tmp_path / "run", "--init", v1_025_file, check=2)
    assert "alpha 0.25" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_imagenet_without_network_names_the_file_to_download(mnd, photos, tmp_path):
    """No network, honestly: an empty keras cache and a proxy nothing listens on."""
    unreachable = "http://127.0.0.1:9"
    result = mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", photos, "--out",
                 tmp_path / "run", "--init", "imagenet", check=2,
                 env={"KERAS_HOME": str(tmp_path / "keras"), "HTTPS_PROXY": unreachable, "https_proxy": unreachable})
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]) and result.stdout == ""
    line = errors[0]
    assert "download mobilenet_2_5_224_tf_no_top.h5 from https://storage.googleapis.com/" in line
    assert "--init PATH/TO/mobilenet_2_5_224_tf_no_top.h5" in line
    assert not (tmp_path / "run").exists()


def test_init_refuses_other_preprocessing_and_gray(v1_025_file):
    with pytest.raises(UsageError, match="expect --preprocess signed"):
        init_weights.check_options(str(v1_025_file), "unit", 3)
    with pytest.raises(UsageError, match="--channels 3"):
        init_weights.check_options("imagenet", None, 1)
    assert init_weights.check_options("none", None, 1) == "unit"


def test_fine_tune_lr_factor_without_init_is_refused_before_any_work(mnd, photos, tmp_path):
    result = mnd("train", "--model", "mobilenet_v1_025_32", "--dataset", photos, "--out", tmp_path / "run",
                 "--fine-tune-lr-factor", "0.1", check=2)
    assert result.stderr.strip().splitlines() == [
        "mnd: error: --fine-tune-lr-factor 0.1 needs --init imagenet|PATH (from scratch there is no second phase)"]
    assert not (tmp_path / "run").exists()
