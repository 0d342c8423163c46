"""Coral uint8 ImageNet MobileNets and TFLM's person_detect, imported as they are."""
import json
import shutil

import pytest

from mnd.base.tflite.read import read_tflite

pytestmark = [pytest.mark.assets, pytest.mark.slow]
CORAL = [("mobilenet_v1_0.25_128_quant", 99), ("mobilenet_v1_0.5_160_quant", 141), ("mobilenet_v1_0.75_192_quant", 156)]


@pytest.mark.parametrize("name, published", CORAL)
def test_coral_top1_onnx_agreement_and_c_array_refusal(assets, mnd, tmp_path, name, published):
    model = assets / "coral_mobilenet_v1_quant" / f"{name}.tflite"
    result = json.loads(mnd("evaluate", "--model", model, "--data", assets / "imagenet_dev", "--crop", "0.875",
                            "--json", check=0).stdout)
    assert result["n"] == 200 and abs(result["top1_correct"] - published) <= 6, result
    assert result["top5"] is not None and result["top5"] >= result["top1"]
    out = tmp_path / "out"
    mnd("export", "--model", model, "--eval", assets / "imagenet_dev", "--crop", "0.875", "--out", out,
        "--labels", assets / "coral_mobilenet_v1_quant" / "imagenet_labels.txt", "--runs", "2", "--warmup", "0", check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    agreement = next(v for v in manifest["validations"] if v["name"].startswith("onnx_uint8"))
    assert agreement["passed"] and agreement["value"] <= 2  # >= 99% of 200 top-1 predictions agree
    assert not any(a["kind"].startswith("tflm") for a in manifest["artifacts"])
    assert any("TFLite-Micro rejects uint8 weights" in w for w in manifest["warnings"])
    assert manifest["model"]["labels"][0] == "background"


def test_requantize_int8_runs_in_tflm_and_reports_agreement(assets, mnd, tmp_path):
    out = tmp_path / "requantized"
    mnd("export", "--model", assets / "coral_mobilenet_v1_quant" / "mobilenet_v1_0.5_160_quant.tflite",
        "--eval", assets / "imagenet_dev", "--crop", "0.875", "--eval-samples", "60", "--requantize-int8",
        "--out", out, "--runs", "2", "--warmup", "0", check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    checks = {v["name"]: v for v in manifest["validations"]}
    assert checks["tflm (from .cc) vs litert reference"]["value"] == 0
    agreement = checks["requantized int8 vs original uint8 top-1"]
    assert agreement["gated"] is False and agreement["value"] <= 6
    assert {"tflm_c_source", "tflite_int8", "tflite_uint8"} <= {a["kind"] for a in manifest["artifacts"]}


@pytest.mark.emulator
def test_coral_v2_ptq_uint8_boundary_is_dropped_exactly_for_mnd_c_on_rpi4(assets, arm64_rootfs, mnd, tmp_path):
    """tf2_mobilenet_v2_1.0_224_ptq: int8 between uint8 QUANTIZE ops. The export drops them (exact), so TFLM and
    mnd's C engine run the int8 graph inside, bit-exact with LiteRT; --requantize-int8 is refused as pointless."""
    model = assets / "coral_mobilenet_v2_quant" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
    flags = ("--model", model, "--eval", assets / "imagenet_dev", "--crop", "0.875", "--resize", "bilinear",
             "--eval-samples", "5", "--runs", "1", "--warmup", "0", "--threads", "1")
    refused = mnd("export", "--target", "rpi4", *flags, "--requantize-int8", "--out", tmp_path / "no", check=2)
    assert "drop --requantize-int8" in refused.stderr and not (tmp_path / "no").exists()
    out = tmp_path / "coral"
    mnd("export", "--target", "rpi4", *flags, "--out", out, check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert "uint8 QUANTIZE boundary dropped (exact)" in manifest["quantization"]["scheme"]
    assert any("QUANTIZE ops dropped" in w for w in manifest["warnings"])
    assert {"tflite_uint8", "tflite_int8", "tflm_c_source"} <= {a["kind"] for a in manifest["artifacts"]}
    checks = {v["name"]: v for v in manifest["validations"]}
    for name in ("int8 (uint8 boundary dropped) vs tflite_uint8 - 128", "tflm (from .cc) vs litert reference",
                 "rpi4 mnd-c vs host litert-ref"):
        assert checks[name]["gated"] and checks[name]["passed"] and checks[name]["detail"] == "0 of 5 samples differ"
    engine = next(m for m in manifest["measurements"] if m["runtime"] == "mnd-c")
    assert engine["artifact"] == "tflite_int8" and engine["n"] == 5
    inside = read_tflite((out / "tf2_mobilenet_v2_1_0_224_ptq_int8.tflite").read_bytes(), "inside")
    assert inside.inputs[0].dtype == inside.outputs[0].dtype == "int8" and "QUANTIZE" not in inside.ops


def test_person_detect_is_repaired_and_tflm_classifies_real_images(assets, mnd, tmp_path):
    source = assets / "tflm_person_detection"
    for label, image in (("person", "person_natural_u8.png"), ("no_person", "no_person.bmp")):
        (tmp_path / "data" / label).mkdir(parents=True)
        shutil.copy(source / image, tmp_path / "data" / label / image)
    original = (source / "person_detect.tflite").read_bytes()
    out = tmp_path / "out"
    result = mnd("export", "--model", source / "person_detect.tflite", "--eval", tmp_path / "data", "--out", out,
                 "--runs", "2", "--warmup", "0", check=0)
    assert "repaired 14 tensor(s)" in result.stderr
    assert (source / "person_detect.tflite").read_bytes() == original
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["model"]["repairs"]) == 14 and any("repaired" in w for w in manifest["warnings"])
    tflm = next(m for m in manifest["measurements"] if m["runtime"] == "tflm")
    assert tflm["n"] == 2 and tflm["accuracy"] == 1.0  # person -> person, no_person -> no person
    assert (out / "person_detect_int8.tflite").read_bytes() == (source / "person_detect_litert_qdimfix.tflite").read_bytes()


@pytest.mark.parametrize("case, message", [
    ("weights_only", "--arch mobilenet_v1_025_96"),
    ("gray_model_rgb_data", "--to-gray"),
    ("bin_size", "needs 27648"),
])
def test_import_bad_input(assets, mnd, tmp_path, case, message):
    from mnd.pipeline.sources.keras_file import load_keras_model

    args = []
    if case == "weights_only":
        model = load_keras_model(assets / "mlperf_vww" / "vww_96.h5")
        model.save_weights(tmp_path / "w.weights.h5")
        args = ["--model", tmp_path / "w.weights.h5", "--calib", assets / "vww_dev"]
    elif case == "gray_model_rgb_data":
        args = ["--model", assets / "tflm_person_detection" / "person_detect.tflite", "--eval", assets / "vww_dev"]
    elif case == "bin_size":
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "a.bin").write_bytes(b"\0" * 100)
        (tmp_path / "d" / "y_labels.csv").write_text("a.bin,2,0\n")
        args = ["--model", assets / "mlperf_vww" / "vww_96_int8.tflite", "--eval", tmp_path / "d"]
    result = mnd("export", *args, "--out", tmp_path / "out")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr[-1500:]
    assert not (tmp_path / "out").exists()


def test_coral_v2_uint8_requantized_exports_to_host_and_tflm_is_bit_exact(assets, mnd, tmp_path):
    """MobileNet V2's residual ADDs requantized uint8 -> int8, through every host artifact on 20 ImageNet images (the
    int8 tf2_mobilenet_v2_1.0_224_ptq.tflite needs no conversion and exports as it is: checked by hand, not here)."""
    name, flags = "mobilenet_v2_1.0_224_quant", ("--requantize-int8",)
    out = tmp_path / "out"
    mnd("export", "--model", assets / "coral_mobilenet_v2_quant" / f"{name}.tflite", "--target", "host",
        "--eval", assets / "imagenet_dev", "--eval-samples", "20", "--crop", "0.875", "--resize", "bilinear", *flags,
        "--out", out, "--runs", "2", "--warmup", "0", check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    checks = {v["name"]: v for v in manifest["validations"]}
    assert checks["tflm (from .cc) vs litert reference"]["value"] == 0
    assert all(v["passed"] for v in checks.values() if v.get("gated", True)), checks
    accuracy = {m["runtime"]: m["accuracy"] for m in manifest["measurements"] if m["n"] == 20}
    assert accuracy["tflm"] >= 0.7 and accuracy["litert-ref"] == accuracy["tflm"], accuracy
