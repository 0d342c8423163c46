"""The generator: bad files are refused (never a crash, never C that does not compile); mismatches are
traced to the first differing layer."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnd.base.errors import ModelError
from mnd.engine import KERNELS_DIR as RUNTIME
from mnd.engine import PORTABLE_SOURCES
from mnd.engine.diagnose import first_differing_layer
from mnd.engine.generator import generate
from mnd.targets.cortex_m.cores import CORES
from mnd.targets.cortex_m.project import KERNELS, makefile_text


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory):
    """A short MobileNet-like stack with random weights of a sane scale (a full-depth untrained MobileNet
    shrinks its activations until the softmax input scale is too small for TFLite's fixed-point exponent)."""
    import keras

    from mnd.quantize.ptq import export_saved_model, int8_tflite

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = keras.layers.Conv2D(16, 1, activation="relu6")(x)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x)
    x = keras.layers.Conv2D(32, 1, activation="relu6")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Softmax()(keras.layers.Dense(3)(x))
    samples = np.random.default_rng(0).random((30, 32, 32, 1), dtype=np.float32)
    saved = export_saved_model(keras.Model(inputs, outputs), tmp_path_factory.mktemp("saved") / "model")
    return int8_tflite(saved, samples)


def compiles(directory: Path) -> bool:
    """Without the harness: model.c includes mnd_harness.h only when MND_PROFILE is defined."""
    result = subprocess.run(["gcc", "-std=c99", "-fsyntax-only", "-I", str(directory), "-I", str(RUNTIME),
                             str(directory / "model.c")], capture_output=True)
    return result.returncode == 0


@pytest.mark.slow
def test_generated_model_compiles_and_plans_the_arena(int8_model, tmp_path):
    generated = generate(int8_model, tmp_path, "tiny.tflite")
    assert compiles(tmp_path)
    assert generated.arena_bytes >= generated.arena_floor_bytes > 0
    assert generated.input_bytes == 32 * 32 and generated.output_bytes == 3
    assert generated.layers == ("CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN",
                                "RESHAPE", "CONV_2D", "RESHAPE", "SOFTMAX")
    assert (tmp_path / "model.c").read_text() == generate(int8_model, tmp_path / "again", "tiny.tflite").files[0].read_text()


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_or_mutated_files_are_refused_or_compile(int8_model, tmp_path_factory, data):
    blob = bytearray(int8_model)
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 16))):
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    out = tmp_path_factory.mktemp("fuzz")
    try:
        generate(bytes(blob), out, "fuzzed.tflite")
    except ModelError:
        return
    assert compiles(out)


@pytest.mark.slow
def test_a_wrong_layer_is_named(int8_model, tmp_path):
    generated = generate(int8_model, tmp_path, "tiny.tflite")
    for name in (*PORTABLE_SOURCES, "kernels.h"):
        shutil.copy(RUNTIME / name, tmp_path / name)
    model_path = tmp_path / "tiny.tflite"
    model_path.write_bytes(int8_model)
    sample = np.random.default_rng(0).integers(-128, 128, size=(32, 32, 1), dtype=np.int8)
    assert "matches every layer" in first_differing_layer(tmp_path, generated, model_path, sample)
    source = (tmp_path / "model.c").read_text()
    hook = "MND_AFTER_LAYER(3, arena + "
    output_offset = source.split(hook)[1].split(",")[0]
    broken = source.replace(hook, f"arena[{output_offset}] ^= 1; {hook}", 1)  # corrupt one value of layer 3
    (tmp_path / "model.c").write_text(broken)
    message = first_differing_layer(tmp_path, generated, model_path, sample)
    assert message.startswith(f"first differing layer: 3 ({generated.layers[3]}), 1 of "), message


@pytest.mark.slow
def test_the_dsp_kernels_host_build_matches_every_layer(int8_model, tmp_path):
    """The diagnosis build of a DSP-kernel model (kernels_*_dsp.c on C versions of the DSP instructions, host gcc)
    agrees with LiteRT layer by layer, so a mismatch on a core is traced through the same kernels."""
    generated = generate(int8_model, tmp_path, "tiny.tflite", kernels="dsp")
    model_c = (tmp_path / "model.c").read_text()
    assert "mnd_pointwise_w16_dsp_s8(" in model_c and "mnd_depthwise3x3_dsp_s8(" in model_c  # small 1x1 layers
    for source in RUNTIME.glob("kernels*.[ch]"):
        shutil.copy(source, tmp_path / source.name)
    model_path = tmp_path / "tiny.tflite"
    model_path.write_bytes(int8_model)
    for seed in range(3):
        sample = np.random.default_rng(seed).integers(-128, 128, size=(32, 32, 1), dtype=np.int8)
        assert "matches every layer" in first_differing_layer(tmp_path, generated, model_path, sample)


@pytest.mark.parametrize("core", sorted(CORES))
def test_the_makefile_builds_the_library_with_the_cores_flags(core, tmp_path):
    """`make -n` (nothing compiled): make's own CC/AR defaults are replaced, a caller's CC is kept."""
    if shutil.which("make") is None:
        pytest.skip("make not found")
    (tmp_path / "Makefile").write_text(makefile_text(CORES[core], "test"))
    for name in ("model.c", "model.h", *KERNELS):
        (tmp_path / name).write_text("")
    env = {"PATH": os.environ["PATH"]}
    dry = subprocess.run(["make", "-n", "-C", str(tmp_path)], capture_output=True, text=True, env=env, check=True)
    assert f"arm-none-eabi-gcc  {' '.join(CORES[core].cflags)} -O2 " in dry.stdout
    assert "arm-none-eabi-ar rcs libmnd_model.a model.o kernels.o kernels_elementwise.o kernels_softmax.o " \
        "kernels_conv_dsp.o kernels_depthwise_dsp.o kernels_elementwise_dsp.o kernels_conv_mve.o kernels_im2col_mve.o " \
        "kernels_depthwise_plane_mve.o kernels_depthwise_mve.o kernels_pool_mve.o kernels_elementwise_mve.o" in dry.stdout
    other = subprocess.run(["make", "-n", "-C", str(tmp_path), "CC=clang"], capture_output=True, text=True, env=env,
                           check=True)
    assert "clang " in other.stdout and "arm-none-eabi-gcc" not in other.stdout


def test_a_1x1_image_takes_the_one_pixel_pointwise_kernel():
    """A 1x1 convolution whose output is one pixel (squeeze-excite, classifier heads) gets the one-pixel DSP
    kernel, its w16 twin where the weights are small; a larger image keeps the pixel-triple one."""
    from mnd.engine.ops import _dsp_kernel

    def kernel(side: int, in_c: int) -> str:
        fields = {"in_h": side, "in_w": side, "in_c": in_c, "out_h": side, "out_w": side, "out_c": 64, "k_h": 1,
                  "k_w": 1, "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1, "pad_top": 0,
                  "pad_left": 0, "depth_multiplier": 1}
        return _dsp_kernel(fields, False, np.ones((64, in_c), np.int8)).function

    assert kernel(1, 432) == "mnd_pointwise_pixel_dsp_s8"
    assert kernel(1, 16) == "mnd_pointwise_pixel_w16_dsp_s8"
    assert kernel(3, 432) == "mnd_pointwise_dsp_s8"
