"""Activation range choice for int8 PTQ: the statistics, the three methods, and their effect on both int8 models."""
import numpy as np
import pytest

from mnd.quantize.activation_ranges import (
    CALIBRATION_METHODS,
    TensorStatistics,
    choose_range,
    choose_ranges,
    quantization_mse,
)

INT8_LEVELS = 255


def statistics_of(*batches, limit: int = 1 << 20) -> TensorStatistics:
    statistics = TensorStatistics(limit=limit)
    for batch in batches:
        statistics.add(batch)
    return statistics


def outlier_stretched(count: int = 100_000, outliers: int = 5, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=count).astype(np.float32)
    values[:outliers] = 100.0
    return values


def test_minmax_is_the_exact_observed_range_even_beyond_the_subsample():
    rng = np.random.default_rng(1)
    batches = [rng.normal(size=(1, 8, 8, 4)).astype(np.float32) for _ in range(50)]
    statistics = statistics_of(*batches, limit=100)
    everything = np.concatenate([batch.ravel() for batch in batches])
    assert choose_range(statistics, "minmax") == (float(everything.min()), float(everything.max()))
    assert statistics.count == everything.size and statistics.sample.size == 100


def test_subsample_is_bounded_uniform_and_deterministic():
    batches = [np.full(1000, index, np.float32) for index in range(10)]
    first, second = statistics_of(*batches, limit=2000), statistics_of(*batches, limit=2000)
    assert np.array_equal(first.sample, second.sample) and first.sample.size == 2000
    per_batch = np.bincount(first.sample.astype(int), minlength=10)
    assert per_batch.min() > 120 and per_batch.max() < 280  # 200 each expected


def test_percentile_ignores_a_few_outliers():
    lo, hi = choose_range(statistics_of(outlier_stretched()), "percentile")
    assert -5 < lo < -3 and 3 < hi < 5


def test_mse_clips_an_outlier_stretched_range_with_no_more_error():
    values = outlier_stretched(outliers=2)
    statistics = statistics_of(values)
    lo, hi = choose_range(statistics, "mse")
    assert hi < 100.0 and lo < 0
    assert quantization_mse(values, lo, hi) <= quantization_mse(values, *choose_range(statistics, "minmax"))


@pytest.mark.parametrize("method", ["percentile", "mse"])
@pytest.mark.parametrize("offset, holds_zero_at", [(2.0, 0), (-3.0, 1)])
def test_chosen_ranges_hold_zero(method, offset, holds_zero_at):
    values = np.random.default_rng(2).uniform(size=10_000).astype(np.float32) + offset
    assert choose_range(statistics_of(values), method)[holds_zero_at] == 0.0


def test_degenerate_tensors_keep_their_observed_range_and_unknown_methods_are_refused():
    statistics = statistics_of(np.zeros(100, np.float32))
    assert all(choose_range(statistics, method) == (0.0, 0.0) for method in CALIBRATION_METHODS)
    with pytest.raises(ValueError, match="calibration must be one of"):
        choose_range(statistics, "entropy")


def test_choices_record_method_range_and_observed_range():
    choice = choose_ranges({"conv": statistics_of(outlier_stretched())}, "percentile")["conv"]
    assert choice.method == "percentile" and choice.observed_hi == 100.0 and choice.hi < 5
    assert set(choice.to_dict()) == {"method", "lo", "hi", "observed_lo", "observed_hi"}


@pytest.fixture(scope="module")
def float_model(tmp_path_factory):
    """A small Keras classifier, its batch-1 SavedModel and calibration samples with one bright outlier pixel."""
    import keras

    from mnd.quantize.ptq import export_saved_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Conv2D(16, 1)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(10)(x)))
    samples = np.random.default_rng(0).random((16, 16, 16, 3), np.float32)
    samples[3, 4, 4] = 8.0
    return model, export_saved_model(model, tmp_path_factory.mktemp("saved") / "model"), samples


@pytest.fixture(scope="module")
def calibrated(float_model):
    from mnd.quantize.ptq import calibrated_float

    _, saved_model, samples = float_model
    return calibrated_float(saved_model, samples)


def tflite_activation_scales(quantized: bytes) -> dict:
    """{tensor name: (scale, zero point)} of the computed tensors, graph inputs and outputs left out."""
    from mnd.quantize import tflite_edit

    model = tflite_edit.load(quantized)
    graph = model.subgraphs[0]
    ends = {int(index) for index in (*graph.inputs, *graph.outputs)}
    return {tensor.name.decode(): (float(tensor.quantization.scale[0]), int(tensor.quantization.zeroPoint[0]))
            for index, tensor in enumerate(graph.tensors)
            if index not in ends and model.buffers[tensor.buffer].data is None}


def test_minmax_keeps_the_converters_own_calibration(float_model, calibrated):
    from mnd.quantize.range_override import with_ranges

    assert with_ranges(calibrated, float_model[2], "minmax") is calibrated


@pytest.mark.parametrize("method", ["percentile", "mse"])
def test_chosen_ranges_become_the_tflite_int8_scales(float_model, calibrated, method):
    from mnd.quantize.ptq import quantize_calibrated
    from mnd.quantize.range_override import with_recorded_ranges

    ranged, choices = with_recorded_ranges(calibrated, float_model[2], method)
    scales = tflite_activation_scales(quantize_calibrated(ranged))
    converter_scales = tflite_activation_scales(quantize_calibrated(calibrated))
    assert any(choice.hi < choice.observed_hi for choice in choices.values())
    assert len(scales) == 5  # convolution, depthwise, convolution, mean, dense
    for name, (scale, zero_point) in scales.items():
        lo, hi = min(choices[name].lo, 0.0), max(choices[name].hi, 0.0)
        assert scale == pytest.approx((hi - lo) / INT8_LEVELS, rel=1e-5)
        assert zero_point == round(-128 - lo / scale)
    assert scales != converter_scales


@pytest.fixture(scope="module")
def float_onnx(float_model, tmp_path_factory):
    from mnd.pipeline.formats.onnx import write_onnx_float

    return write_onnx_float(float_model[0], tmp_path_factory.mktemp("onnx") / "float.onnx")


def onnx_scales(path) -> tuple:
    """({activation: (scale, zero point)}, {weight: scale count}) of a QDQ model."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    values = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    activations = {node.input[0]: (float(values[node.input[1]]), int(values[node.input[2]]))
                   for node in model.graph.node if node.op_type == "QuantizeLinear"}
    weights = {node.input[0]: values[node.input[1]].size for node in model.graph.node
               if node.op_type == "DequantizeLinear" and node.input[0] in values}
    return activations, weights


class Feeds:
    def __init__(self, name: str, samples: np.ndarray):
        self._feeds = iter([{name: sample[None]} for sample in samples])

    def get_next(self):
        return next(self._feeds, None)


def ort_minmax_int8(float_path, samples, path):
    """ONNX Runtime's static QDQ quantization called directly, as write_onnx_int8 did before calibration methods."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = path.with_name("prepared.onnx")
    quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
    name = onnx.load(str(prepared)).graph.input[0].name
    quantize_static(str(prepared), str(path), Feeds(name, samples),
                    quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    return path


def test_onnx_default_arguments_are_onnx_runtimes_minmax(float_model, float_onnx, tmp_path):
    from mnd.pipeline.formats.onnx import write_onnx_int8

    written = write_onnx_int8(float_onnx, float_model[2], tmp_path / "int8.onnx")
    assert written.read_bytes() == ort_minmax_int8(float_onnx, float_model[2], tmp_path / "direct.onnx").read_bytes()


def test_onnx_per_tensor_weights_have_one_scale_per_weight_tensor(float_model, float_onnx, tmp_path):
    from mnd.pipeline.formats.onnx import write_onnx_int8

    per_tensor = onnx_scales(write_onnx_int8(float_onnx, float_model[2], tmp_path / "t.onnx", weights="per-tensor"))
    per_channel = onnx_scales(write_onnx_int8(float_onnx, float_model[2], tmp_path / "c.onnx"))
    assert set(per_tensor[1].values()) == {1} and max(per_channel[1].values()) > 1
    assert per_tensor[0] == per_channel[0]


def test_onnx_percentile_ranges_are_the_activation_scales_and_match_tflite(float_model, float_onnx, calibrated,
                                                                           tmp_path):
    from mnd.pipeline.formats.onnx import write_onnx_int8
    from mnd.pipeline.formats.onnx_ranges import range_overrides
    from mnd.quantize.ptq import quantize_calibrated
    from mnd.quantize.range_override import with_ranges

    samples = float_model[2]
    overrides = range_overrides(float_onnx, samples, "percentile")
    scales = onnx_scales(write_onnx_int8(float_onnx, samples, tmp_path / "p.onnx", calibration="percentile"))[0]
    minmax = onnx_scales(write_onnx_int8(float_onnx, samples, tmp_path / "m.onnx"))[0]
    ranged = [name for name in overrides if name in scales]
    assert len(ranged) == 6  # convolution (after its Clip), depthwise, convolution, pool, squeeze, matmul
    for name in ranged:
        (override,), (scale, _) = overrides[name], scales[name]
        assert scale == pytest.approx((override["rmax"] - min(override["rmin"], 0)) / INT8_LEVELS, rel=1e-5)
    assert scales != minmax
    onnx_activations = sorted({scale for name, (scale, _) in scales.items() if name in overrides})
    tflite = tflite_activation_scales(quantize_calibrated(with_ranges(calibrated, samples, "percentile")))
    assert onnx_activations == pytest.approx(sorted(scale for scale, _ in tflite.values()), rel=1e-5)


def test_onnx_values_are_collected_in_tflite_order(float_onnx):
    import onnx

    from mnd.pipeline.formats.onnx_ranges import nhwc_axes

    axes = nhwc_axes(onnx.shape_inference.infer_shapes(onnx.load(str(float_onnx))))
    assert axes == {name: (0, 2, 3, 1) for name in ("0000_Transpose:0", "0001_Conv:0", "0002_Clip:0", "0003_Conv:0",
                                                      "0004_Conv:0", "0005_GlobalAveragePool:0")}
