"""Per-layer PTQ quality (quantize.layer_quality) and its report section, on a small MobileNet whose batch norms
are randomized so that per-output-channel weight ranges differ strongly, as in trained models."""
import io
import json

import keras
import numpy as np
import pytest

from mnd.pipeline.report.quantization import quantization_section
from mnd.pipeline.report.quantization_plots import sqnr_by_depth_compare_png, sqnr_by_depth_png
from mnd.quantize import tflite_edit
from mnd.quantize.layer_flags import flag_layers
from mnd.quantize.layer_quality import LayerQuality, layer_quality
from mnd.quantize.ptq import calibrated_float, export_saved_model, quantize_calibrated

WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _randomize_batch_norms(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.gamma.assign(np.exp(rng.normal(0, 1.5, n)).astype(np.float32))
            layer.beta.assign(rng.normal(0.5, 0.5, n).astype(np.float32))
            layer.moving_mean.assign(rng.normal(0, 0.1, n).astype(np.float32))
            layer.moving_variance.assign(np.exp(rng.normal(0, 1, n)).astype(np.float32))


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    from mnd.pipeline.model.keras_builder import create_model

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    model = create_model("mobilenet_v1_025_32", classes=10)
    _randomize_batch_norms(model, rng)
    saved_model = export_saved_model(model, tmp_path_factory.mktemp("layer_quality") / "saved_model")
    samples = rng.uniform(-1, 1, (32, 32, 32, 3)).astype(np.float32)  # the model's x / 127.5 - 1 range
    calibrated = calibrated_float(saved_model, samples[:16])
    return {"model": model, "calibrated": calibrated,
            "per-channel": layer_quality(calibrated, "per-channel", samples[16:]),
            "per-tensor": layer_quality(calibrated, "per-tensor", samples[16:])}


def _int8_ops(model_bytes: bytes) -> list:
    fb = tflite_edit.schema()
    names = {code: name for name, code in vars(fb.BuiltinOperator).items() if not name.startswith("_")}
    model = tflite_edit.load(model_bytes)
    ops = [names[tflite_edit.builtin(model, op)] for op in model.subgraphs[0].operators]
    return [op for op in ops if op not in ("QUANTIZE", "DEQUANTIZE")]


def test_one_entry_per_quantized_op_in_graph_order(quantized):
    layers = quantized["per-channel"]
    assert [layer.op for layer in layers] == _int8_ops(quantize_calibrated(quantized["calibrated"]))
    assert [layer.depth for layer in layers] == list(range(len(layers)))
    keras_names = [layer.name for layer in quantized["model"].layers
                   if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense))]
    assert [layer.name for layer in layers if layer.op in WEIGHTED] == keras_names
    assert layers[0].name == "conv_0" and layers[1].name == "dw_1" and layers[-1].name == "softmax"


def test_sqnr_finite_and_plausible(quantized):
    for layer in quantized["per-channel"]:
        assert layer.sqnr_db is not None and 0 < layer.sqnr_db < 100, layer
        assert layer.layer_sqnr_db is not None and layer.layer_sqnr_db > 0, layer
        assert 0 <= layer.mean_abs_error <= layer.max_abs_error < float("inf")
    convs = [layer for layer in quantized["per-channel"] if layer.op in WEIGHTED]
    assert all(layer.layer_sqnr_db > 20 for layer in convs)


def test_per_tensor_weights_lose_more_than_per_channel(quantized):
    def worst(scheme):
        return min(layer.layer_sqnr_db for layer in quantized[scheme])

    assert worst("per-tensor") < worst("per-channel") - 3
    assert [layer.op for layer in quantized["per-tensor"]] == [layer.op for layer in quantized["per-channel"]]


@pytest.mark.parametrize("name", ["dw_3", "pw_4"])
def test_weight_spread_is_the_folded_per_channel_range_ratio(quantized, name):
    conv, bn = quantized["model"].get_layer(name), quantized["model"].get_layer(f"{name}_bn")
    scale = bn.gamma.numpy() / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    kernel = conv.weights[0].numpy()  # [kh, kw, in, out]; depthwise [kh, kw, channels, 1]
    kernel = kernel[..., 0] if isinstance(conv, keras.layers.DepthwiseConv2D) else kernel
    ranges = np.abs(kernel * scale).reshape(-1, scale.size).max(axis=0)
    layer = next(layer for layer in quantized["per-channel"] if layer.name == name)
    assert layer.weight_channels == scale.size
    assert layer.dead_channels == int(np.sum(ranges < ranges.max() / 100))
    if layer.dead_channels:
        assert layer.weight_range_spread is None, "dead channels are counted, not turned into a ratio"
    else:
        assert layer.weight_range_spread == pytest.approx(ranges.max() / ranges.min(), rel=1e-4)


def test_three_flagged_for_each_reason(quantized):
    layers = quantized["per-tensor"]
    lowest = sorted(layer.layer_sqnr_db for layer in layers if layer.lowest_layer_sqnr)
    assert lowest == sorted(layer.layer_sqnr_db for layer in layers)[:3]
    drops = sorted((layer.accumulated_drop_db for layer in layers if layer.largest_drop), reverse=True)
    assert drops == sorted((layer.accumulated_drop_db for layer in layers[1:]), reverse=True)[:3]


def test_each_layer_drops_from_the_layer_it_reads(quantized):
    layers = quantized["per-channel"]
    assert layers[0].inputs == () and layers[0].accumulated_drop_db is None, "the first conv reads the model input"
    assert all(layer.inputs == (layer.depth - 1,) for layer in layers[1:]), "MobileNet v1 is a chain"
    assert all(layer.accumulated_drop_db == pytest.approx(layers[layer.depth - 1].sqnr_db - layer.sqnr_db)
               for layer in layers[1:])


def test_lowest_layer_sqnr_skips_layers_without_sqnr():
    layers = [LayerQuality(i, f"l{i}", "CONV_2D", f"t{i}", 30.0, sqnr, 0.1, 0.2)
              for i, sqnr in enumerate([40.0, None, 12.0, 35.0, 20.0])]
    assert [layer.lowest_layer_sqnr for layer in flag_layers(layers, k=2)] == [False, False, True, False, True]


def test_markdown_section_has_a_row_per_layer_and_the_flags(quantized):
    layers = [layer.to_dict() for layer in quantized["per-tensor"]]
    manifest_part = json.loads(json.dumps({"layers": layers, "weights_scheme": "per-tensor", "calibration": "min/max, 16 "
                                           "samples", "float_model": ["batch norm folded by the converter"]}))
    lines = quantization_section(manifest_part)
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| #")]
    assert len(rows) == len(layers)
    assert sum("lowest layer SQNR" in row for row in rows) == 3
    assert sum("largest accumulated drop" in row for row in rows) == 3
    assert any(line.startswith("Accumulated SQNR drops most at: #") for line in lines)
    assert rows[1].split(" | ")[1:3] == ["dw_1", "DEPTHWISE_CONV_2D"]
    intro = next(line for line in lines if line.startswith("Int8 weights"))
    assert "per-tensor" in intro and "16 samples" in intro and "batch norm folded" in intro
    assert quantization_section({"layers": []}) == []


def test_markdown_cells_stay_one_cell():
    layer = {"name": "a|b\nc", "op": "CONV_2D", "sqnr_db": None, "layer_sqnr_db": 10.0, "mean_abs_error": 0.0,
             "max_abs_error": 0.0, "weight_range_spread": None, "weight_channels": 4, "dead_channels": 1}
    row = quantization_section({"layers": [layer]})[8]
    assert "a\\|b c" in row and "exact" in row and "1/4 channels dead" in row


def test_sqnr_plots_are_pngs(quantized):
    import matplotlib.image

    runs = {scheme: [layer.to_dict() for layer in quantized[scheme]] for scheme in ("per-channel", "per-tensor")}
    for png in (sqnr_by_depth_png(runs["per-tensor"], "SQNR by depth"),
                sqnr_by_depth_compare_png(runs, "per-channel vs per-tensor")):
        assert png.startswith(PNG_SIGNATURE)
        height, width, _ = matplotlib.image.imread(io.BytesIO(png), format="png").shape
        assert 600 <= width <= 1600 and 300 <= height <= width
