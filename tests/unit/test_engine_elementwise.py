"""ADD, MUL (broadcast) and HARD_SWISH of the C engine (kernels_elementwise.c) against LiteRT's reference kernels,
byte for byte, op by op and along the chain, on tiny converted models of odd shapes; and their parameters."""
import subprocess

import numpy as np
import pytest

from mnd.engine import quant
from mnd.engine.ops import emit_op
from mnd.engine.ops_elementwise import broadcast_strides
from tests.unit.engine_cases import _assert_bit_exact, _build, _compile, _parse, _run_case


def _binary_layer(function):
    """A Keras layer applying keras.ops `function` to two tensors (broadcasting as NumPy does)."""
    import keras

    class Binary(keras.layers.Layer):
        def call(self, a, b):
            return function(a, b)

    return Binary()


def _emitted_fields(path, name: str) -> list:
    """The C params text of every `name` op in the model."""
    from tests.unit.engine_cases import _op_name

    model, graph = _parse(path)
    return [emit_op(model, graph, k, f"l{k}_").constants[-1] for k, op in enumerate(graph.operators)
            if _op_name(model, op) == name]


# ---- parameters ----

def test_broadcast_strides_follow_tflite_alignment():
    assert broadcast_strides((1, 5, 7, 3), (1, 5, 7, 3)) == [0, 21, 3, 1]
    assert broadcast_strides((1, 1, 1, 3), (1, 5, 7, 3)) == [0, 0, 0, 1]
    assert broadcast_strides((1, 1, 1, 1), (1, 5, 7, 3)) == [0, 0, 0, 0]
    assert broadcast_strides((1, 5, 1, 3), (1, 5, 7, 3)) == [0, 3, 0, 1]
    assert broadcast_strides((1, 1, 1, 2), (1, 5, 7, 3)) is None


def test_add_params_bring_both_inputs_to_twice_the_larger_scale():
    params = quant.add_params(0.02, 0.05, 0.04)
    real = lambda m, s: m * 2.0 ** (s - 31)  # noqa: E731
    assert params["left_shift"] == 20
    assert real(params["input1_multiplier"], params["input1_shift"]) == pytest.approx(0.02 / 0.1, rel=1e-6)
    assert real(params["input2_multiplier"], params["input2_shift"]) == pytest.approx(0.5, rel=1e-6)
    assert real(params["output_multiplier"], params["output_shift"]) == pytest.approx(0.1 / (2 ** 20 * 0.04), rel=1e-6)


def test_mul_multiplier_is_computed_in_float32():
    a, b, out = 0.0123, 0.0456, 0.00789
    multiplier, shift = quant.mul_multiplier(a, b, out)
    float32 = float(np.float32(np.float32(a) * np.float32(b)) / np.float32(out))
    assert (multiplier, shift) == quant.quantize_multiplier(float32)


def test_hard_swish_multipliers_are_rounded_to_16_bits():
    params = quant.hard_swish_params(0.05, 0.03)
    hires = np.float32(np.float32(1 / 128) * np.float32(0.05))
    m, e = quant.quantize_multiplier(float(np.float32(hires / np.float32(0.03))))
    assert (params["output_multiplier"], params["output_exponent"]) == ((m + (1 << 15)) >> 16, e)
    assert quant._int16_multiplier((1 << 31) - 1) == (1 << 15) - 1  # saturates instead of reaching 2^15


# ---- bit-exact cases ----

def _random_case(tmp_path, seed: int, graph, input_channels_max: int, channels: tuple):
    """(path, _run_case result) of `graph(channels)` on a random odd input shape and data range from `seed`."""
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(5, 12)), int(rng.integers(5, 12)), int(rng.integers(1, input_channels_max)))
    low = float(rng.uniform(-3, 0))
    path, inputs = _build(tmp_path, shape, graph(int(rng.integers(*channels))), seed, low,
                          low + float(rng.uniform(0.5, 4)))
    return path, _run_case(tmp_path, path, inputs)


def _residual_and_broadcast_add(channels: int):
    import keras

    def build(x):
        a = keras.layers.Conv2D(channels, 1, bias_initializer="random_normal")(x)
        b = keras.layers.DepthwiseConv2D(3, padding="same", bias_initializer="random_normal")(a)
        residual = keras.layers.ReLU()(keras.layers.Add()([a, b]))
        pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(residual)
        shift = keras.layers.Conv2D(channels, 1, bias_initializer="random_normal")(pooled)
        return _binary_layer(keras.ops.add)(residual, shift)

    return build


@pytest.mark.slow
@pytest.mark.parametrize("seed", [61, 62, 63])
def test_add_residual_and_broadcast_bit_exact(tmp_path, seed):
    path, result = _random_case(tmp_path, seed, _residual_and_broadcast_add, 6, (2, 7))
    assert result["names"].count("ADD") == 2, result["names"]
    _assert_bit_exact(result, {"ADD", "MEAN"})
    assert any("{0, 0, 0, 1}" in fields for fields in _emitted_fields(path, "ADD"))  # the broadcast one


def _squeeze_excite(channels: int):
    """MobileNet V3's squeeze-and-excite: a hard-sigmoid gate over the channel means scales the feature map."""
    import keras

    def build(x):
        y = keras.layers.Conv2D(channels, 3, padding="same", bias_initializer="random_normal")(x)
        s = keras.layers.GlobalAveragePooling2D(keepdims=True)(y)
        s = keras.layers.Conv2D(max(channels // 2, 1), 1, activation="relu")(s)
        s = keras.layers.Conv2D(channels, 1, bias_initializer="random_normal")(s)
        gate = keras.layers.ReLU(6.0)(s + 3.0) * (1.0 / 6.0)
        return keras.layers.Multiply()([y, gate])

    return build


@pytest.mark.slow
@pytest.mark.parametrize("seed", [71, 72, 73])
def test_mul_squeeze_excite_bit_exact(tmp_path, seed):
    _, result = _random_case(tmp_path, seed, _squeeze_excite, 4, (3, 9))
    assert result["names"].count("MUL") == 2, result["names"]  # by the constant 1/6, then the broadcast gate
    _assert_bit_exact(result, {"MUL", "MEAN"})


@pytest.mark.slow
@pytest.mark.parametrize("seed", [81, 87, 88])
def test_hard_swish_bit_exact_with_either_sign_of_exponent(tmp_path, seed):
    import keras

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(4, 10)), int(rng.integers(4, 10)), int(rng.integers(1, 5)))

    def build(x):  # layers made after _build seeds Keras, so that their unseeded initializers repeat
        for layer in [keras.layers.Conv2D(5, 3, padding="same", bias_initializer="random_normal"),
                      keras.layers.Activation("hard_swish"),
                      keras.layers.Conv2D(4, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.05)),
                      keras.layers.Activation("hard_swish"),
                      keras.layers.Conv2D(3, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=8.0),
                                          bias_initializer="random_normal"),
                      keras.layers.Activation("hard_swish")]:
            x = layer(x)
        return x

    path, inputs = _build(tmp_path, shape, build, seed, -4.0, 4.0)
    result = _run_case(tmp_path, path, inputs)
    assert result["names"].count("HARD_SWISH") == 3, result["names"]
    _assert_bit_exact(result, {"HARD_SWISH"})
    exponents = {int(line.split("=")[1].strip(" ,")) for fields in _emitted_fields(path, "HARD_SWISH")
                 for line in fields.splitlines() if ".reluish_exponent" in line}
    assert min(exponents) < 0 < max(exponents), exponents  # both the right- and the left-shifting paths


def test_hard_swish_table_gives_what_the_direct_path_gives(tmp_path):
    """From MND_HARD_SWISH_TABLE_MIN values on the kernel looks results up in a table of all 256: on random scales
    (both exponent signs), every int8 value through the table path equals the same value computed directly."""
    rng = np.random.default_rng(91)
    cases = [quant.hard_swish_params(float(a), float(a) * float(b))
             for a, b in zip(np.exp(rng.uniform(np.log(1e-3), np.log(0.5), 40)), rng.uniform(0.05, 3.0, 40))]
    assert min(c["reluish_exponent"] for c in cases) < 0 < max(c["reluish_exponent"] for c in cases)
    rows = ",\n".join("{%d, %d, %d, %d, %d, %d, %d}" % (1024, int(rng.integers(-128, 128)), int(rng.integers(-128, 128)),
                                                       c["output_multiplier"], c["output_exponent"],
                                                       c["reluish_multiplier"], c["reluish_exponent"]) for c in cases)
    binary = _compile(tmp_path, """#include <stdio.h>
#include "kernels.h"
static const mnd_hard_swish_params cases[] = {%s};
int main(void) {
  int8_t in[1024], table_out[1024], direct_out[1];
  int c, i, differ = 0;
  for (i = 0; i < 1024; ++i) in[i] = (int8_t)(i %% 256 - 128);
  for (c = 0; c < (int)(sizeof cases / sizeof cases[0]); ++c) {
    mnd_hard_swish_params one = cases[c];
    one.size = 1;
    mnd_hard_swish_s8(&cases[c], in, table_out);
    for (i = 0; i < 1024; ++i) {
      mnd_hard_swish_s8(&one, in + i, direct_out);
      differ += direct_out[0] != table_out[i];
    }
  }
  printf("%%d\\n", differ);
  return 0;
}
""" % rows)
    assert subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.strip() == "0"


# ---- refusals: typed, one line, naming what is supported ----

@pytest.fixture(scope="module")
def gated_model(tmp_path_factory):
    """conv -> hard-swish -> squeeze-and-excite gate (MUL) -> ADD of the block input: each new op once."""
    import keras

    def build(x):
        y = keras.layers.Activation("hard_swish")(keras.layers.Conv2D(4, 3, padding="same")(x))
        gated = _squeeze_excite(4)(y)
        return keras.layers.Add()([keras.layers.Conv2D(4, 1)(gated), y])

    return _build(tmp_path_factory.mktemp("gated"), (6, 5, 3), build, 95)[0]


def _last(model, graph, name: str) -> int:
    """The last `name` op (for MUL the gate, both of whose inputs are activations)."""
    from tests.unit.engine_cases import _op_name

    return [k for k, op in enumerate(graph.operators) if _op_name(model, op) == name][-1]


@pytest.mark.slow
@pytest.mark.parametrize("op,mutation,needle", [
    ("HARD_SWISH", "tiny_output_scale", "an output scale at least 1/128 of the input scale"),
    ("ADD", "tiny_output_scale", "need a multiplier above one"),
    ("MUL", "wider_input", "does not broadcast to"),
    ("MUL", "uint8_input", "int8 activations with one scale and zero point"),
])
def test_new_ops_refuse_what_the_kernels_do_not_compute(gated_model, op, mutation, needle):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    from mnd.engine.ops import UnsupportedOp

    model, graph = _parse(gated_model)
    index = _last(model, graph, op)
    node = graph.operators[index]
    if mutation == "tiny_output_scale":
        quantization = graph.tensors[node.outputs[0]].quantization
        quantization.scale = np.asarray(quantization.scale) * 1e-7
    elif mutation == "wider_input":
        tensor = graph.tensors[node.inputs[1]]
        tensor.shape = np.asarray(list(tensor.shape[:-1]) + [tensor.shape[-1] + 1], np.int32)
    else:
        graph.tensors[node.inputs[0]].type = schema_fb.TensorType.UINT8
    with pytest.raises(UnsupportedOp) as caught:
        emit_op(model, graph, index, "l_")
    message = str(caught.value)
    assert message.startswith(f"{op} (layer {index}): ") and needle in message and "\n" not in message, message
    assert "the Cortex-M C engine supports" in message
