"""PTQ settings through the CLI: `mnd export --weights/--calibration/--equalize/--bias-correct` reach both int8
artifacts and the report, and `mnd quantize-report` sets the weight schemes side by side."""
import json

import pytest

from mnd.pipeline.report.intervals import accuracy_interval

pytestmark = pytest.mark.slow
FAST = ("--runs", "2", "--warmup", "0")


@pytest.fixture(scope="module")
def per_tensor_export(digits_run, tmp_path_factory):
    from tests.conftest import run_mnd

    out = tmp_path_factory.mktemp("ptq") / "run"
    run_mnd("export", "--model", digits_run, "--out", out, "--weights", "per-tensor", "--equalize", "--bias-correct",
            "--calibration", "mse", "--calib-samples", "100", *FAST, check=0)
    return out


def _onnx_weight_scales(path) -> list:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    constants = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    sizes = []
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in constants and constants[node.input[0]].ndim == 4:
            sizes.append(constants[node.input[1]].size)
    return sizes


def test_export_records_the_settings_and_applies_them_to_both_int8_artifacts(per_tensor_export):
    from mnd.quantize.tflite_edit import load

    manifest = json.loads((per_tensor_export / "manifest.json").read_text())
    quant = manifest["quantization"]
    assert quant["scheme"] == "int8-per-tensor" and quant["weights_scheme"] == "per-tensor"
    assert quant["calibration"] == "mse" and quant["equalize"] is True and quant["bias_correct"] is True
    assert quant["bias_correction"]["mode"] == "on", "--bias-correct: no check models, the correction as asked"
    assert quant["float_model"], "the notes say what was done to the float model"
    validations = {v["name"]: v for v in manifest["validations"]}
    assert all(v["passed"] for v in validations.values()), validations
    assert "onnx_int8 vs tflite_int8 top-1" in validations
    artifact = {a["kind"]: per_tensor_export / a["path"] for a in manifest["artifacts"]}
    tflite = load(artifact["tflite_int8"].read_bytes())
    distinct = [len(set(t.quantization.scale)) for t in tflite.subgraphs[0].tensors
                if len(t.shape) == 4 and tflite.buffers[t.buffer].data is not None]
    # one scale per weight tensor (the classifier run as a 1x1 CONV_2D repeats it per channel, as CONV_2D wants)
    assert distinct and set(distinct) == {1}, "per-tensor: one scale per weight tensor in the TFLite model"
    onnx_scales = _onnx_weight_scales(artifact["onnx_int8"])
    assert onnx_scales and set(onnx_scales) == {1}, "and in the ONNX model"


def test_export_report_has_the_per_layer_section(per_tensor_export):
    manifest = json.loads((per_tensor_export / "manifest.json").read_text())
    layers = manifest["quantization"]["layers"]
    assert len(layers) >= 27 and all({"name", "op", "sqnr_db"} <= set(layer) for layer in layers)
    assert any(layer["lowest_layer_sqnr"] for layer in layers) and any(layer["largest_drop"] for layer in layers)
    report = (per_tensor_export / "report.md").read_text()
    assert "## Quantization" in report and layers[0]["name"] in report
    assert "data:image/png;base64," in (per_tensor_export / "report.html").read_text()


def test_quantize_report_compares_the_four_settings(digits_run, tmp_path, mnd):
    out = tmp_path / "quality"
    result = mnd("quantize-report", "--model", digits_run, "--compare", "--calib-samples", "100", "--eval-samples",
                 "200", "--quality-samples", "20", "--out", out, check=0)
    doc = json.loads((out / "quantization.json").read_text())
    labels = [scheme["label"] for scheme in doc["schemes"]]
    assert labels == ["per-channel", "per-tensor", "per-tensor + equalize", "per-tensor + equalize + bias-correct"]
    assert doc["float"]["n"] == 200 and all(scheme["n"] == 200 for scheme in doc["schemes"])
    minimum = {s["label"]: min(layer["sqnr_db"] for layer in s["layers"]) for s in doc["schemes"]}
    assert minimum["per-tensor"] < minimum["per-channel"], minimum
    assert all(label in result.stdout for label in labels), "the Markdown summary on stdout"
    for scheme in doc["schemes"]:  # the samples only one model gets right make the whole difference
        assert scheme["correct"] - doc["float"]["correct"] == scheme["int8_only_correct"] - scheme["float_only_correct"]
        assert f"| {accuracy_interval(scheme['accuracy'], 200)} | " in result.stdout
    assert f"float top-1: {accuracy_interval(doc['float']['accuracy'], 200)} (95% interval" in result.stdout
    assert {path.name for path in out.iterdir()} >= {"quantization.json", "quantization.md"}
    assert any(path.suffix == ".png" for path in out.iterdir())


@pytest.mark.parametrize("flags, message", [
    (("--equalize",), "the float Keras model"),
    (("--weights", "per-tensor"), "already int8"),
])
def test_settings_refused_where_they_cannot_apply(assets, tmp_path, mnd, flags, message):
    model = assets / "mlperf_vww" / ("vww_96_float.tflite" if flags == ("--equalize",) else "vww_96_int8.tflite")
    out = tmp_path / "out"
    result = mnd("export", "--model", model, "--calib", assets / "vww_dev", "--out", out, *flags, *FAST)
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert result.returncode == 2 and len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))


def test_compare_refuses_the_settings_it_sets_itself(tmp_path, mnd):
    out = tmp_path / "quality"
    result = mnd("quantize-report", "--compare", "--weights", "per-tensor", "--out", out)
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert result.returncode == 2 and len(errors) == 1 and "--compare" in errors[0], result.stderr[-2000:]
    assert not out.exists()
