"""mnd-c built for this host runs MobileNet V2 and V3 int8 graphs bit-exact with LiteRT's reference kernels: small
Keras-Applications models (V2 0.35-96, V3-Small 0.75-96 and its minimalistic variant, V3-Large 0.75-96) on random
and image-like inputs, and the Coral V2 1.0-224 models on 20 imagenet_dev images (the int8 PTQ one with its uint8
QUANTIZE boundary dropped, the uint8 QAT one requantized to int8 as `--requantize-int8` does). The planned arena
stays within 5% of the floor."""
import csv
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mnd.base.errors import ModelError
from mnd.base.runtimes.sandbox import run_model
from mnd.base.tflite.read import describe, load_tflite
from mnd.base.tflite.repair import requantize_uint8_to_int8
from mnd.engine.linux_build import build_executable, write_linux_project
from mnd.pipeline.sources.tflite_boundary import strip_uint8_boundary
from tests.unit.mobilenets import build_int8, calibration_inputs, int8_inputs

CORAL = "coral_mobilenet_v2_quant"
IMAGES = 20
ARENA_SLACK = 1.05
EXPECTED_OPS = {"v2_035_96": {"ADD"}, "v3s_075_96": {"ADD", "MUL", "HARD_SWISH", "MEAN"},
                "v3s_075_96_min": {"ADD", "MEAN"}, "v3l_075_96": {"ADD", "MUL", "HARD_SWISH", "MEAN"}}


@pytest.fixture(scope="session")
def mobilenet_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mobilenets")


def _mnd_c(model: Path, project: Path):
    """(generated model, mnd-c built with host gcc)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    generated = write_linux_project(model, project)
    return generated, build_executable(project, project / "mnd-c", cc="gcc", cpu=None, static=False)


def _run(binary: Path, inputs: np.ndarray, work: Path) -> np.ndarray:
    (work / "in.bin").write_bytes(inputs.tobytes())
    subprocess.run([str(binary), work / "in.bin", work / "out.bin"], check=True, capture_output=True, timeout=300)
    return np.frombuffer((work / "out.bin").read_bytes(), np.int8).reshape(len(inputs), -1)


def _quantized_images(model: Path) -> np.ndarray:
    """The calibration images as the int8 model's input (in range, unlike random bytes)."""
    from mnd.base.runtimes.inputs import inputs_for

    return inputs_for(model, calibration_inputs()[:3])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_OPS))
def test_keras_mobilenets_are_bit_exact_and_the_arena_is_near_the_floor(mobilenet_dir, tmp_path, name):
    model = build_int8(name, mobilenet_dir)
    ops = set(describe(load_tflite(model.read_bytes(), model.name), model.name).ops)
    assert EXPECTED_OPS[name] <= ops, ops
    generated, binary = _mnd_c(model, tmp_path / "project")
    inputs = np.concatenate([int8_inputs(3), _quantized_images(model)])
    ours = _run(binary, inputs, tmp_path)
    reference = run_model("litert-ref", model, inputs).outputs.reshape(ours.shape)
    np.testing.assert_array_equal(ours, reference)
    assert len({row.tobytes() for row in ours}) == len(inputs)  # the outputs tell the inputs apart
    assert generated.arena_floor_bytes <= generated.arena_bytes <= ARENA_SLACK * generated.arena_floor_bytes


@pytest.fixture(scope="session")
def imagenet_uint8(assets) -> np.ndarray:
    from PIL import Image

    from mnd.pipeline.data.images import fit_image
    from mnd.pipeline.data.preprocess import Preprocessing

    prep = Preprocessing(mode="raw", side=224, channels=3, crop_fraction=0.875, resize="bilinear")
    with open(assets / "imagenet_dev" / "labels.csv") as handle:
        files = [row["file"] for row in csv.DictReader(handle)][:IMAGES]
    return np.stack([fit_image(Image.open(assets / "imagenet_dev" / name), prep, name) for name in files])


@pytest.mark.slow
@pytest.mark.parametrize("file,convert", [("tf2_mobilenet_v2_1.0_224_ptq.tflite", strip_uint8_boundary),
                                          ("mobilenet_v2_1.0_224_quant.tflite", requantize_uint8_to_int8)])
def test_coral_mobilenet_v2_is_bit_exact_on_imagenet_images(assets, imagenet_uint8, tmp_path, file, convert):
    original = assets / CORAL / file
    if not original.is_file():
        pytest.skip(f"{original} not found")
    model = tmp_path / f"int8_{file}"
    model.write_bytes(convert(original.read_bytes(), file))
    _, binary = _mnd_c(model, tmp_path / "project")
    signed = (imagenet_uint8.astype(np.int16) - 128).astype(np.int8)
    ours = _run(binary, signed, tmp_path)
    np.testing.assert_array_equal(ours, run_model("litert-ref", model, signed).outputs.reshape(ours.shape))
    assert len(set(ours.argmax(1))) > IMAGES // 2
    if convert is strip_uint8_boundary:  # lossless: the original uint8 model's outputs, shifted
        uint8 = run_model("litert-ref", original, imagenet_uint8).outputs.reshape(ours.shape)
        np.testing.assert_array_equal(ours.astype(np.int16) + 128, uint8)


def test_dropping_the_uint8_boundary_refuses_a_model_without_one(mobilenet_dir):
    model = build_int8("v3s_075_96_min", mobilenet_dir)
    with pytest.raises(ModelError, match="not an int8 graph between uint8 QUANTIZE ops"):
        strip_uint8_boundary(model.read_bytes(), model.name)
