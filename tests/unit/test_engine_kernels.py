"""The Cortex-M C kernels against LiteRT's reference kernels (and TFLite-Micro where they differ), byte for byte.

Each case builds a tiny int8 .tflite with the TFLite converter, emits every op with engine.ops, compiles
runtime/kernels.c with a generated driver on the host (gcc -std=c99 -Wall -Werror) and compares:
  * each op alone, fed the exact input tensor LiteRT's reference interpreter saw, with that interpreter's output;
  * the whole chain from the model input with the reference model output.
Interpreters only run in child processes (base/runtimes/sandbox.py): the reference int8 SOFTMAX can abort.
"""
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mnd.engine import quant
from mnd.engine.ops import SUPPORTED_OPS, UnsupportedOp, emit_op
from tests.unit.engine_cases import _assert_bit_exact, _build, _compile, _parse, _reference_tensor, _run_case


# ---- parameter derivation (pure Python) ----

def test_quantize_multiplier_edges():
    assert quant.quantize_multiplier(0.0) == (0, 0)
    assert quant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert quant.quantize_multiplier(1.0) == (1 << 30, 1)
    assert quant.quantize_multiplier(1.0 - 2.0 ** -40) == (1 << 30, 1)  # mantissa rounds up to 1.0
    assert quant.quantize_multiplier(2.0 ** -40) == (0, 0)  # below 2^-32: flushed
    m, s = quant.quantize_multiplier(0.0123)
    assert (1 << 30) <= m < (1 << 31) and abs(m * 2.0 ** (s - 31) - 0.0123) < 1e-11


def test_activation_ranges():
    assert quant.activation_range(0, 0.1, 3) == (-128, 127)
    assert quant.activation_range(1, 0.1, -128) == (-128, 127)
    assert quant.activation_range(3, 6 / 255, -128) == (-128, 127)
    assert quant.activation_range(3, 0.01, -10) == (-10, 127)
    assert quant.activation_range(2, 0.05, 0) == (-20, 20)


def test_softmax_params_match_tflite_formula():
    multiplier, left_shift, diff_min = quant.softmax_params(1.0, 0.1)
    assert multiplier * 2.0 ** (left_shift - 31) == pytest.approx(0.1 * 2 ** 26)
    assert diff_min == -((31 * 2 ** 26) >> left_shift)


# ---- the requantization helper against a Python model of TFLite's ----

def _srdhm(a: int, b: int) -> int:
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    product = a * b
    nudged = product + ((1 << 30) if product >= 0 else 1 - (1 << 30))
    return nudged // (1 << 31) if nudged >= 0 else -(-nudged // (1 << 31))  # truncating, as C++


def _rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    return (x >> exponent) + ((x & mask) > (mask >> 1) + (1 if x < 0 else 0))


def _mbqm(x: int, multiplier: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return _rdbpot(_srdhm(x * (1 << left), multiplier), right)


def test_requantize_helper_matches_tflite_semantics(tmp_path):
    rng = np.random.default_rng(7)
    count = 4000
    xs = np.concatenate([rng.integers(-(1 << 31), 1 << 31, count // 2), rng.integers(-(1 << 16), 1 << 16, count // 2)])
    reals = np.exp(rng.uniform(np.log(1e-6), np.log(0.9), count))
    pairs = [quant.quantize_multiplier(float(r)) for r in reals]
    pairs[:4] = [((1 << 31) - 1, 0), (1 << 30, -31), ((1 << 31) - 1, 2), (1 << 30, 1)]
    xs[:4] = [-(1 << 31), -(1 << 31), 1000, -12345]
    triples = np.array([(int(x), m, s) for x, (m, s) in zip(xs, pairs)], np.int64)
    triples[:, 0] = np.clip(triples[:, 0], -(1 << 31), (1 << 31) - 1)
    triples[triples[:, 2] > 0, 0] >>= 4  # keep x << shift inside int32, as TFLite requires
    triples.astype(np.int32).tofile(tmp_path / "in.bin")
    binary = _compile(tmp_path, """#include <stdio.h>
#include "kernels.h"
int main(void) {
  int32_t t[3];
  FILE* in = fopen("in.bin", "rb");
  FILE* out = fopen("out.bin", "wb");
  while (fread(t, sizeof t, 1, in) == 1) {
    int32_t r = mnd_requantize(t[0], t[1], t[2]);
    fwrite(&r, sizeof r, 1, out);
  }
  fclose(in);
  fclose(out);
  return 0;
}
""")
    subprocess.run([str(binary)], cwd=tmp_path, check=True)
    got = np.fromfile(tmp_path / "out.bin", np.int32)
    want = [_mbqm(int(x), int(m), int(s)) for x, m, s in triples.astype(np.int32).astype(np.int64)]
    assert got.tolist() == want


# ---- cases: random shapes and parameters from a seed ----

def _random_windows(rng, side: int, count: int, depthwise: bool) -> list:
    """`count` conv/depthwise layers with random kernel 1|3, stride 1|2, SAME|VALID, activation, width.
    (No dilation: the converter lowers a dilated Keras conv to SPACE_TO_BATCH_ND; see test_dilation_bit_exact.)"""
    import keras

    layers = []
    for _ in range(count):
        kernel, stride = int(rng.choice([1, 3])), int(rng.choice([1, 2]))
        padding = str(rng.choice(["same", "valid"])) if side >= kernel + 2 else "same"
        side = (side + stride - 1) // stride if padding == "same" else (side - kernel + stride) // stride
        common = dict(strides=stride, padding=padding, bias_initializer="random_normal")
        if depthwise:
            layers.append(keras.layers.DepthwiseConv2D(kernel, depth_multiplier=int(rng.choice([1, 2])), **common))
        else:
            layers.append(keras.layers.Conv2D(int(rng.integers(1, 9)), kernel, **common))
        activation = rng.choice(["none", "relu", "relu6"])
        if activation != "none":
            layers.append(keras.layers.ReLU(max_value=6.0 if activation == "relu6" else None))
    return layers


def _shape(rng, channels_max: int = 4) -> tuple:
    return int(rng.integers(5, 14)), int(rng.integers(5, 14)), int(rng.integers(1, channels_max + 1))


def _data_range(rng) -> tuple:
    low = float(rng.uniform(-3, 1))
    return low, low + float(rng.uniform(0.5, 4))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15, 16])
def test_conv2d_bit_exact(tmp_path, seed):
    rng = np.random.default_rng(seed)
    shape = _shape(rng)
    path, inputs = _build(tmp_path, shape, _random_windows(rng, min(shape[:2]), 4, depthwise=False), seed,
                          *_data_range(rng))
    _assert_bit_exact(_run_case(tmp_path, path, inputs), {"CONV_2D"})


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 22, 23, 24, 25, 26])
def test_depthwise_conv2d_bit_exact(tmp_path, seed):
    rng = np.random.default_rng(seed)
    shape = _shape(rng)
    path, inputs = _build(tmp_path, shape, _random_windows(rng, min(shape[:2]), 4, depthwise=True), seed,
                          *_data_range(rng))
    _assert_bit_exact(_run_case(tmp_path, path, inputs), {"DEPTHWISE_CONV_2D"})


@pytest.mark.slow
@pytest.mark.parametrize("seed", [31, 32, 33])
def test_average_pool_and_mean_keep_dims_bit_exact(tmp_path, seed):
    import keras

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(9, 16)), int(rng.integers(9, 16)), int(rng.integers(1, 5)))
    layers = [keras.layers.Conv2D(3, 1, bias_initializer="random_normal"),
              keras.layers.AveragePooling2D(2, strides=2, padding="valid"),
              keras.layers.AveragePooling2D(3, strides=2, padding="same"),
              keras.layers.AveragePooling2D(3, strides=1, padding="same"),
              keras.layers.GlobalAveragePooling2D(keepdims=True)]
    path, inputs = _build(tmp_path, shape, layers, seed, *_data_range(rng))
    result = _run_case(tmp_path, path, inputs)
    _assert_bit_exact(result, {"AVERAGE_POOL_2D", "MEAN"})
    assert np.array_equal(result["chain"], _reference_tensor(path, inputs, 0, "tflm").reshape(-1))


@pytest.mark.slow
@pytest.mark.parametrize("seed,classes", [(41, 2), (42, 10), (43, 37)])
def test_mean_fc_softmax_chain_bit_exact(tmp_path, seed, classes):
    """GlobalAveragePooling2D (MEAN, keep_dims false) -> Dense -> Softmax; FULLY_CONNECTED follows TFLite-Micro."""
    import keras

    rng = np.random.default_rng(seed)
    layers = [keras.layers.Conv2D(6, 3, padding="same", bias_initializer="random_normal"),
              keras.layers.GlobalAveragePooling2D(),
              keras.layers.Dense(classes, kernel_initializer=keras.initializers.RandomNormal(stddev=2.0)),
              keras.layers.Softmax()]
    path, inputs = _build(tmp_path, _shape(rng), layers, seed, *_data_range(rng))
    result = _run_case(tmp_path, path, inputs)
    _assert_bit_exact(result, {"MEAN", "FULLY_CONNECTED", "SOFTMAX"}, skip_ops={"FULLY_CONNECTED"})
    assert np.array_equal(result["chain"], _reference_tensor(path, inputs, 0, "tflm").reshape(-1))


def _fc_model(tmp_path):
    import keras

    rng = np.random.default_rng(51)
    layers = [keras.layers.GlobalAveragePooling2D(),
              keras.layers.Dense(24, activation="relu", bias_initializer="random_normal"),
              keras.layers.Dense(17, bias_initializer="random_normal")]
    return _build(tmp_path, (6, 5, 7), layers, 51, *_data_range(rng))


@pytest.mark.slow
def test_fully_connected_matches_tflite_micro(tmp_path):
    """TFLite-Micro requantizes FULLY_CONNECTED with double rounding, like every other op; LiteRT 2.3's reference
    per-channel FULLY_CONNECTED rounds once ((acc * M + 2^(30 - shift)) >> (31 - shift)) and differs by 1 on
    roughly one output in 1500. The kernel follows TFLite-Micro; the exporter sidesteps the difference."""
    path, inputs = _fc_model(tmp_path)
    result = _run_case(tmp_path, path, inputs)
    assert result["names"].count("FULLY_CONNECTED") == 2
    assert np.array_equal(result["chain"], _reference_tensor(path, inputs, 0, "tflm").reshape(-1))


@pytest.mark.slow
def test_fc_rewritten_as_reshape_and_1x1_conv_matches_litert_reference(tmp_path):
    """The exporter's FULLY_CONNECTED -> RESHAPE, 1x1 CONV_2D, RESHAPE rewrite (quantize.fc_as_conv)."""
    from mnd.quantize.fc_as_conv import fully_connected_as_conv

    path, inputs = _fc_model(tmp_path)
    path.write_bytes(fully_connected_as_conv(path.read_bytes()))
    _assert_bit_exact(_run_case(tmp_path, path, inputs), {"RESHAPE", "CONV_2D"})


@pytest.mark.slow
def test_softmax_1001_classes_bit_exact(tmp_path):
    import keras

    layers = [keras.layers.GlobalAveragePooling2D(),
              keras.layers.Dense(1001, kernel_initializer=keras.initializers.RandomNormal(stddev=3.0)),
              keras.layers.Softmax()]
    path, inputs = _build(tmp_path, (4, 4, 8), layers, 61, -1.0, 2.0)
    result = _run_case(tmp_path, path, inputs)
    _assert_bit_exact(result, {"SOFTMAX"}, skip_ops={"FULLY_CONNECTED"})
    assert np.array_equal(result["chain"], _reference_tensor(path, inputs, 0, "tflm").reshape(-1))


def _set_dilation(path: Path, factor_h: int, factor_w: int) -> Path:
    """The same model with every stride-1 SAME conv / depthwise dilated (SAME output sizes do not change)."""
    from mnd.base.tflite.repair import pack_model

    model, graph = _parse(path)
    for op in graph.operators:
        options = op.builtinOptions
        if hasattr(options, "dilationHFactor") and options.strideH == options.strideW == 1 and options.padding == 0:
            options.dilationHFactor, options.dilationWFactor = factor_h, factor_w
    dilated = path.with_name("dilated.tflite")
    dilated.write_bytes(pack_model(model))
    return dilated


@pytest.mark.slow
def test_dilation_bit_exact(tmp_path):
    import keras

    layers = [keras.layers.Conv2D(5, 3, padding="same", bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, bias_initializer="random_normal"),
              keras.layers.ReLU()]
    path, inputs = _build(tmp_path, (11, 8, 3), layers, 71, -0.5, 2.0)
    result = _run_case(tmp_path, _set_dilation(path, 2, 3), inputs)
    _assert_bit_exact(result, {"CONV_2D", "DEPTHWISE_CONV_2D"})


@pytest.mark.slow
@pytest.mark.parametrize("activation", [1, 2, 3])  # RELU, RELU_N1_TO_1, RELU6
def test_fused_activation_clamps_bit_exact(tmp_path, activation):
    """The converter folds calibrated activations into the output range (the clamp is then -128..127), so the
    clamp is exercised by fusing an activation into ops whose outputs span about -20..20."""
    import keras

    from mnd.base.tflite.repair import pack_model

    big = keras.initializers.RandomNormal(stddev=1.5)
    layers = [keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=big, bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, depthwise_initializer=big),
              keras.layers.AveragePooling2D(2, padding="same"),
              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(9, kernel_initializer=big)]
    path, inputs = _build(tmp_path, (9, 8, 3), layers, 100 + activation, -2.0, 3.0)
    model, graph = _parse(path)
    for op in graph.operators:
        if hasattr(op.builtinOptions, "fusedActivationFunction"):
            op.builtinOptions.fusedActivationFunction = activation
    path.write_bytes(pack_model(model))
    result = _run_case(tmp_path, path, inputs)
    _assert_bit_exact(result, {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"}, skip_ops={"FULLY_CONNECTED"})
    assert np.array_equal(result["chain"], _reference_tensor(path, inputs, 0, "tflm").reshape(-1))
    clamped = [(name, got) for name, got, _ in result["ops"] if name in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert all(got.min() > -128 or got.max() < 127 for _, got in clamped), "no clamp took effect"


@pytest.mark.slow
def test_int8_requantize_bit_exact(tmp_path):
    """QUANTIZE int8 -> int8: a k1 conv with as many filters as channels, rewritten into a QUANTIZE whose output
    keeps the conv output's (different) scale and zero point."""
    import keras
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    from mnd.base.tflite.repair import pack_model

    path, inputs = _build(tmp_path, (5, 7, 3), [keras.layers.Conv2D(3, 1, bias_initializer="random_normal")], 91,
                          -0.3, 2.5)
    model, graph = _parse(path)
    op = graph.operators[0]
    code = schema_fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema_fb.BuiltinOperator.QUANTIZE
    code.version = 1
    model.operatorCodes.append(code)
    op.opcodeIndex, op.inputs = len(model.operatorCodes) - 1, np.array(op.inputs[:1], np.int32)
    op.builtinOptionsType, op.builtinOptions = schema_fb.BuiltinOptions.QuantizeOptions, schema_fb.QuantizeOptionsT()
    path.write_bytes(pack_model(model))
    _assert_bit_exact(_run_case(tmp_path, path, inputs), {"QUANTIZE"})


def test_fold_input_zero_point_wraps_like_int32():
    weights = np.array([[1, -2, 3], [127, 127, 127]], np.int8)
    assert quant.fold_input_zero_point(np.array([10, 0]), weights, -5).tolist() == [20, 1905]
    assert quant.fold_input_zero_point(None, weights, 3).tolist() == [-6, -1143]
    big = quant.fold_input_zero_point(np.array([(1 << 31) - 1]), np.full((1, 2), -1, np.int8), 1)
    assert big.tolist() == [-(1 << 31) + 1]


@pytest.mark.slow
def test_conv_fast_paths_bit_exact(tmp_path):
    """The packed GEMM's edges: pixel counts not a multiple of four, odd channel counts, a 1x1 with stride 2 and
    with padding-free SAME, depth over one packing chunk (300 > 248), and a 3x3 deeper than the packed path
    takes (3 * 3 * 64 > 512: the one-output-at-a-time fallback)."""
    import keras

    big = keras.initializers.RandomNormal(stddev=0.8)
    layers = [keras.layers.Conv2D(300, 1, bias_initializer="random_normal", kernel_initializer=big),
              keras.layers.Conv2D(7, 1, bias_initializer="random_normal"),
              keras.layers.Conv2D(64, 1, strides=2, padding="same", bias_initializer="random_normal"),
              keras.layers.Conv2D(5, 3, padding="same", bias_initializer="random_normal"),
              keras.layers.Conv2D(3, 3, strides=2, padding="valid", bias_initializer="random_normal")]
    path, inputs = _build(tmp_path, (7, 9, 3), layers, 131, -1.5, 2.0)
    _assert_bit_exact(_run_case(tmp_path, path, inputs), {"CONV_2D"})


@pytest.mark.slow
def test_depthwise_fast_paths_bit_exact(tmp_path):
    """Depthwise in pairs of pixels (up to 5x5, taps three at a time then one): borders on every side, an odd width
    (a lone last pixel), stride 2, more channels than one block (260 > 256), 2x2 and 5x5 windows, next to the
    generic path (depth multiplier 2, 7x7 filters)."""
    import keras

    big = keras.initializers.RandomNormal(stddev=1.2)
    layers = [keras.layers.Conv2D(260, 1, bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(3, padding="same", depthwise_initializer=big,
                                           bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(5, padding="same", depthwise_initializer=big,
                                           bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(3, strides=2, padding="same", bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(2, padding="same", bias_initializer="random_normal"),
              keras.layers.Conv2D(6, 1, bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(3, padding="valid", bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(5, strides=2, padding="same", bias_initializer="random_normal"),
              keras.layers.DepthwiseConv2D(7, padding="same", bias_initializer="random_normal")]
    path, inputs = _build(tmp_path, (7, 9, 3), layers, 141, -2.0, 1.0)
    _assert_bit_exact(_run_case(tmp_path, path, inputs), {"CONV_2D", "DEPTHWISE_CONV_2D"})


# ---- emission: determinism and typed refusals ----

@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    import keras

    tmp = tmp_path_factory.mktemp("small")
    layers = [keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3), keras.layers.Softmax()]
    return _build(tmp, (8, 8, 2), layers, 81)[0]


@pytest.mark.slow
def test_emission_is_deterministic_and_format_safe(small_model):
    def text():
        model, graph = _parse(small_model)
        return [emit_op(model, graph, k, f"l{k}_") for k in range(len(graph.operators))]

    first, second = text(), text()
    assert first == second
    for k, emission in enumerate(first):
        assert all(f"l{k}_" in line.split("=")[0] for line in emission.constants)
        assert "{in0}" in emission.call and "{out0}" in emission.call
        assert emission.call.format(in0="a + 1", out0="b").count("(") >= 2
    assert first[0].macs == 4 * 4 * 4 * 3 * 3 * 2 and set(SUPPORTED_OPS) >= {"CONV_2D", "SOFTMAX"}


@pytest.mark.slow
@pytest.mark.parametrize("mutation,needle", [
    ("tanh_op", "TANH (layer 0): this operator is not implemented"),
    ("float", "CONV_2D (layer 0): tensor"),
    ("uint8_weights", "symmetric int8 weights"),
    ("tanh", "fused activation TANH"),
    ("softmax_scale", "scale 1/256"),
])
def test_unsupported_ops_raise_a_typed_one_line_error(small_model, mutation, needle):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    from mnd.base.errors import ModelError

    model, graph = _parse(small_model)
    conv = graph.operators[0]
    index = 0
    if mutation == "tanh_op":
        model.operatorCodes[conv.opcodeIndex].builtinCode = schema_fb.BuiltinOperator.TANH
        model.operatorCodes[conv.opcodeIndex].deprecatedBuiltinCode = schema_fb.BuiltinOperator.TANH
    elif mutation == "float":
        graph.tensors[conv.inputs[0]].type = schema_fb.TensorType.FLOAT32
    elif mutation == "uint8_weights":
        graph.tensors[conv.inputs[1]].type = schema_fb.TensorType.UINT8
    elif mutation == "tanh":
        conv.builtinOptions.fusedActivationFunction = schema_fb.ActivationFunctionType.TANH
    else:
        index = len(graph.operators) - 1
        graph.tensors[graph.operators[index].outputs[0]].quantization.zeroPoint = np.array([0], np.int64)
    with pytest.raises(UnsupportedOp) as caught:
        emit_op(model, graph, index, "x_")
    assert isinstance(caught.value, ModelError) and needle in str(caught.value) and "\n" not in str(caught.value)
