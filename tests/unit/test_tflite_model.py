"""Reading a .tflite flatbuffer without an interpreter: ops, tensors, quantization, and garbage refused."""
import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnd.base.errors import ModelError
from mnd.base.tflite.read import TfliteModel, read_tflite, unique_ops

CLASSES = 3


@functools.cache
def tiny_models() -> dict:
    """{'int8': bytes, 'float': bytes} of MobileNet v1 alpha 0.25, 32x32x1, 3 classes (built once per session)."""
    from mnd.pipeline.model.architecture import ModelSpec
    from mnd.pipeline.model.keras_builder import build_model
    from mnd.quantize.ptq import export_saved_model, float_tflite, int8_tflite

    model = build_model(ModelSpec(alpha=0.25, side=32, classes=CLASSES, channels=1))
    samples = np.random.default_rng(0).random((20, 32, 32, 1), dtype=np.float32)
    with tempfile.TemporaryDirectory() as directory:
        saved = export_saved_model(model, Path(directory) / "saved_model")
        return {"int8": int8_tflite(saved, samples), "float": float_tflite(saved)}


@pytest.fixture(scope="module")
def int8_bytes() -> bytes:
    return tiny_models()["int8"]


@pytest.fixture(scope="module")
def float_bytes() -> bytes:
    return tiny_models()["float"]


def expected_ops(int8: bool) -> list:
    # Full conv, then 13 (depthwise, pointwise) pairs, then pool, the classifier, softmax. The int8 export
    # runs FULLY_CONNECTED as a 1x1 CONV_2D between reshapes (quantize/fc_as_conv.py).
    classifier = ["RESHAPE", "CONV_2D", "RESHAPE"] if int8 else ["FULLY_CONNECTED"]
    return ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 13 + ["MEAN", *classifier, "SOFTMAX"]


@pytest.mark.slow
def test_int8_model_ops_in_execution_order(int8_bytes):
    model = read_tflite(int8_bytes, "tiny.tflite")
    assert isinstance(model, TfliteModel)
    assert list(model.ops) == expected_ops(int8=True)
    assert unique_ops(model) == ["CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "RESHAPE", "SOFTMAX"]
    assert model.subgraphs == 1 and model.source == "tiny.tflite"


@pytest.mark.slow
def test_int8_model_io_is_quantized_per_tensor(int8_bytes):
    model = read_tflite(int8_bytes)
    (image,), (scores,) = model.inputs, model.outputs
    assert (image.shape, image.dtype) == ((1, 32, 32, 1), "int8")
    assert (scores.shape, scores.dtype) == ((1, CLASSES), "int8")
    for tensor in (image, scores):
        assert tensor.quantized and tensor.scale > 0 and -128 <= tensor.zero_point <= 127
        assert tensor.quantized_dimension is None
    # Softmax output: the converter fixes scale 1/256 and zero point -128.
    assert (scores.scale, scores.zero_point) == (1 / 256, -128)
    assert model.is_int8


@pytest.mark.slow
def test_softmax_input_is_the_logits_tensor(int8_bytes, float_bytes):
    for data in (int8_bytes, float_bytes):
        model = read_tflite(data)
        assert model.softmax_input is not None
        assert model.softmax_input not in {model.inputs[0].index, model.outputs[0].index}
        assert 0 <= model.softmax_input < model.tensors


@pytest.mark.slow
def test_float_model_is_not_int8(float_bytes):
    model = read_tflite(float_bytes)
    assert not model.is_int8
    assert list(model.ops) == expected_ops(int8=False)
    for tensor in (*model.inputs, *model.outputs):
        assert tensor.dtype == "float32"
        assert (tensor.scale, tensor.zero_point, tensor.quantized) == (None, None, False)


@pytest.mark.parametrize("data, words", [
    (b"", "too short"),
    (b"TFL3", "too short"),
    (b"\x00" * 64, "not a TFLite model"),
    (b"PK\x03\x04" + b"\x00" * 60, "not a TFLite model"),
    (b"\x1c\x00\x00\x00TFL3", "corrupt"),
    (b"\xff\xff\xff\xffTFL3" + b"\x00" * 32, "corrupt"),
])
def test_garbage_is_refused_with_the_fix(data, words):
    with pytest.raises(ModelError) as caught:
        read_tflite(data, "bad.tflite")
    message = str(caught.value)
    assert words in message and message.startswith("bad.tflite: ") and "re-export" in message
    assert "\n" not in message


@given(st.binary(max_size=512))
def test_random_bytes_behind_the_identifier_never_crash(tail):
    try:
        read_tflite(b"\x10\x00\x00\x00TFL3" + tail)
    except ModelError:
        pass


@pytest.mark.slow
def test_every_truncation_is_refused(int8_bytes):
    # The ends matter most (header, tables at the front; weight buffers at the back); sample the middle.
    lengths = [*range(0, 600), *range(600, len(int8_bytes) - 600, 991), *range(len(int8_bytes) - 600, len(int8_bytes))]
    for length in lengths:
        with pytest.raises(ModelError):
            read_tflite(int8_bytes[:length])


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_models_parse_or_raise_model_error(int8_bytes, data):
    mutated = bytearray(int8_bytes)
    for _ in range(data.draw(st.integers(1, 16))):
        # The first 4 KiB hold the tables and offsets, where a flipped byte does the most damage.
        mutated[data.draw(st.integers(0, 4095))] = data.draw(st.integers(0, 255))
    try:
        model = read_tflite(bytes(mutated))
    except ModelError:
        return
    assert isinstance(model.ops, tuple) and all(isinstance(op, str) for op in model.ops)


@pytest.mark.slow
def test_bytearray_and_memoryview_read_like_bytes(int8_bytes):
    expected = read_tflite(int8_bytes)
    assert read_tflite(bytearray(int8_bytes)) == expected
    assert read_tflite(memoryview(int8_bytes)) == expected
