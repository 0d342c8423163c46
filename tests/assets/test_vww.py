"""MLPerf Tiny VWW: our import + PTQ of vww_96.h5 against the MLPerf reference models, two-fold on vww_dev."""
import json
import shutil

import numpy as np
import pytest

from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.runtimes.sandbox import run_model
from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.plan import to_evaluation
from mnd.pipeline.data.preprocess import Preprocessing

pytestmark = [pytest.mark.assets, pytest.mark.slow]


def half(assets, tmp_path, name, parity):
    """A y_labels.csv over every other vww_dev image. The .bin files are copied: label rows must resolve inside
    the dataset folder, so links that lead back to vww_dev would (rightly) be refused."""
    source = assets / "vww_dev"
    rows = [row for row in (source / "y_labels.csv").read_text().splitlines() if row.strip()]
    folder = tmp_path / name
    (folder / "bin").mkdir(parents=True)
    chosen = rows[parity::2]
    for row in chosen:
        shutil.copyfile(source / "bin" / row.split(",")[0], folder / "bin" / row.split(",")[0])
    (folder / "y_labels.csv").write_text("\n".join(chosen) + "\n")
    return folder


@pytest.fixture(scope="module")
def two_fold(assets, tmp_path_factory):
    from tests.conftest import run_mnd

    tmp = tmp_path_factory.mktemp("vww")
    halves = [half(assets, tmp, "a", 0), half(assets, tmp, "b", 1)]
    folds = []
    for calib, evaluation in (halves, halves[::-1]):
        out = tmp / f"export-{calib.name}"
        run_mnd("export", "--model", assets / "mlperf_vww" / "vww_96.h5", "--calib", calib, "--eval", evaluation,
                "--out", out, "--runs", "2", "--warmup", "0", check=0)
        folds.append((out, evaluation))
    return folds


def predictions(assets, folds):
    """Top-1 of our float / int8 and of the MLPerf float / int8 reference models on all 200 images."""
    prep = Preprocessing(mode="unit", side=96, channels=3)
    ours_float, ours_int8, ref_float, ref_int8, labels = [], [], [], [], []
    for out, evaluation_dir in folds:
        evaluation = to_evaluation(load_dataset(str(evaluation_dir), prep, 2), prep)
        manifest = json.loads((out / "manifest.json").read_text())
        path = {a["kind"]: out / a["path"] for a in manifest["artifacts"]}
        ours_float.append(run_model("litert", path["tflite_float"], evaluation.float_inputs).outputs)
        ours_int8.append(run_model("litert-ref", path["tflite_int8"], artifact_inputs(path["tflite_int8"], evaluation)).outputs)
        reference = assets / "mlperf_vww"
        ref_float.append(run_model("litert", reference / "vww_96_float.tflite", evaluation.float_inputs).outputs)
        ref_int8_path = reference / "vww_96_int8.tflite"
        ref_int8.append(run_model("litert-ref", ref_int8_path, artifact_inputs(ref_int8_path, evaluation)).outputs)
        labels.append(evaluation.labels)
    top1 = lambda outputs: np.argmax(np.concatenate(outputs), axis=1)  # noqa: E731
    return top1(ours_float), top1(ours_int8), top1(ref_float), top1(ref_int8), np.concatenate(labels)


def test_two_fold_matches_the_mlperf_reference(assets, two_fold):
    ours_float, ours_int8, ref_float, ref_int8, labels = predictions(assets, two_fold)
    assert len(labels) == 200
    assert np.mean(ours_float == ref_float) >= 0.99
    assert np.mean(ours_int8 == ours_float) >= 0.97
    accuracy = lambda predicted: 100 * np.mean(predicted == labels)  # noqa: E731
    assert abs(accuracy(ours_int8) - accuracy(ours_float)) <= 1.5
    assert abs(accuracy(ours_int8) - accuracy(ref_int8)) <= 1.5


def test_tflm_from_our_c_array_is_bit_exact_on_all_200(two_fold):
    total = 0
    for out, _ in two_fold:
        manifest = json.loads((out / "manifest.json").read_text())
        check = next(v for v in manifest["validations"] if v["name"].startswith("tflm"))
        assert check["passed"] and check["value"] == 0
        total += manifest["data"]["evaluation"]["samples"]
        assert manifest["model"]["preprocessing"]["mode"] == "unit"
        assert manifest["data"]["calibration"]["samples"] == 100
    assert total == 200


def test_evaluate_json_on_the_reference_int8(assets, mnd):
    result = json.loads(mnd("evaluate", "--model", assets / "mlperf_vww" / "vww_96_int8.tflite",
                            "--data", assets / "vww_dev", "--json", check=0).stdout)
    assert result["n"] == 200 and result["top5"] is None
    assert result["top1"] == result["top1_correct"] / 200 and 0.8 <= result["top1"] <= 0.9
    assert result["ci95"][0] < result["top1"] < result["ci95"][1]


def test_float_tflite_import_says_what_it_cannot_produce(assets, mnd, tmp_path):
    out = tmp_path / "float"
    mnd("export", "--model", assets / "mlperf_vww" / "vww_96_float.tflite", "--calib", assets / "vww_dev",
        "--out", out, "--runs", "2", "--warmup", "0", check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(a["kind"] for a in manifest["artifacts"]) == ["onnx_float", "onnx_int8", "tflite_float"]
    assert any("tflite_int8" in w and "float graph" in w for w in manifest["warnings"])
    assert all(v["passed"] for v in manifest["validations"])
