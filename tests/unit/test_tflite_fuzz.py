"""Fuzzing the .tflite reader and repairs: single-byte flips, truncations and splices of real models give a
one-line ModelError or a valid model, never another exception. 3000 cases in all, derandomized (the same cases
on every run): 1250 on a small model generated here (no assets needed) and 1750 on MLPerf's vww_96_int8.tflite."""
import functools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mnd.base.errors import ModelError
from mnd.base.tflite.read import read_tflite
from mnd.base.tflite.repair import repair_tflite, requantize_uint8_to_int8
from tests.unit.tiny_tflite import tiny_tflite

VWW = "mlperf_vww/vww_96_int8.tflite"
SOURCE = "fuzzed.tflite"
EDGE = 4096  # the tables and offsets sit in the first and last 4 KiB of a converter-written file


def fuzz(cases: int):
    return settings(max_examples=cases, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@functools.cache
def tiny(dtype: str) -> bytes:
    return tiny_tflite(dtype)


@pytest.fixture(scope="module")
def vww(assets) -> bytes:
    return (assets / VWW).read_bytes()


def flipped(data: bytes, draw) -> bytes:
    edges = st.one_of(st.integers(0, min(EDGE, len(data)) - 1), st.integers(max(0, len(data) - EDGE), len(data) - 1))
    position = draw(edges if len(data) > 2 * EDGE else st.integers(0, len(data) - 1))
    mutated = bytearray(data)
    mutated[position] ^= draw(st.integers(1, 255))
    return bytes(mutated)


def truncated(data: bytes, draw) -> bytes:
    return data[:draw(st.integers(0, len(data) - 1))]


def spliced(data: bytes, donor: bytes, draw) -> bytes:
    """A block of `data` overwritten with bytes from elsewhere in `donor` (offsets stay put), or the head of
    `data` joined to a tail of `donor` (everything after the cut moves)."""
    cut, start = draw(st.integers(0, len(data) - 1)), draw(st.integers(0, len(donor) - 1))
    if draw(st.booleans()):
        block = donor[start:start + draw(st.integers(1, 256))]
        return data[:cut] + block + data[cut + len(block):]
    return data[:cut] + donor[start:]


def assert_one_line(error: ModelError):
    message = str(error)
    assert message.startswith(f"{SOURCE}: ") and "\n" not in message, message


def repairs_or_refuses(data: bytes):
    """repair_tflite reads the whole model (read_tflite's checks) and returns a valid model, or refuses."""
    try:
        repaired, lines = repair_tflite(data, SOURCE)
    except ModelError as error:
        assert_one_line(error)
        assert "re-export" in str(error), str(error)
        event("refused")
        return
    event("repaired" if lines else "accepted as it is")
    if lines:
        assert repair_tflite(repaired, "again") == (repaired, [])
    else:
        assert repaired == data
    model = read_tflite(repaired, SOURCE)
    assert model.inputs and model.outputs and all(isinstance(op, str) for op in model.ops)


# ----------------------------------------------------------------------------- the generated model (no assets)
@fuzz(500)
@given(st.data())
def test_flips_of_a_small_model(data):
    repairs_or_refuses(flipped(tiny("int8"), data.draw))


@fuzz(200)
@given(st.data())
def test_truncations_of_a_small_model(data):
    repairs_or_refuses(truncated(tiny("int8"), data.draw))


@fuzz(300)
@given(st.data(), st.sampled_from(["int8", "uint8"]))
def test_splices_of_small_models(data, donor):
    repairs_or_refuses(spliced(tiny("int8"), tiny(donor), data.draw))


@fuzz(250)
@given(st.data(), st.sampled_from(["flip", "splice"]))
def test_requantize_of_a_mutated_uint8_model(data, how):
    model = tiny("uint8")
    mutated = flipped(model, data.draw) if how == "flip" else spliced(model, tiny("int8"), data.draw)
    try:
        converted = requantize_uint8_to_int8(mutated, SOURCE)
    except ModelError as error:
        assert_one_line(error)
        event("refused")
        return
    event("converted")
    assert read_tflite(converted, "converted").inputs[0].dtype == "int8"


def test_the_generated_models_are_what_the_fuzzing_starts_from():
    """The mutations start from models the reader and both repairs accept (so they test something)."""
    int8, uint8 = read_tflite(tiny("int8")), read_tflite(tiny("uint8"))
    assert int8.ops == uint8.ops == ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "SOFTMAX")
    assert int8.is_int8 and uint8.inputs[0].dtype == "uint8"
    assert repair_tflite(tiny("int8"), "tiny")[1] == ["subgraph 0 tensor 2 'conv/bias': quantized_dimension 3 -> 0"]
    assert read_tflite(requantize_uint8_to_int8(tiny("uint8"), "tiny")).is_int8


# ----------------------------------------------------------------------------- a real converter-written model
@pytest.mark.assets
@fuzz(1000)
@given(data=st.data())
def test_flips_of_a_real_model(vww, data):
    repairs_or_refuses(flipped(vww, data.draw))


@pytest.mark.assets
@fuzz(250)
@given(data=st.data())
def test_truncations_of_a_real_model(vww, data):
    repairs_or_refuses(truncated(vww, data.draw))


@pytest.mark.assets
@fuzz(500)
@given(data=st.data(), small_donor=st.booleans())
def test_splices_of_real_models(vww, data, small_donor):
    repairs_or_refuses(spliced(vww, tiny("int8") if small_donor else vww, data.draw))


@pytest.mark.assets
@pytest.mark.parametrize("position, mask", [(330584, 0x01), (330606, 0x80)])
def test_the_reported_flips_are_one_line_model_errors(vww, position, mask):
    mutated = bytearray(vww)
    mutated[position] ^= mask
    with pytest.raises(ModelError) as caught:
        repair_tflite(bytes(mutated), "vww_flipped.tflite")
    message = str(caught.value)
    assert message.startswith("vww_flipped.tflite: truncated or corrupt TFLite model") and "\n" not in message
    assert "intact copy" in message and "re-export" in message
