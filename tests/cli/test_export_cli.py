"""`mnd export`, `mnd measure`, `mnd doctor` through the installed console script, on a real trained model."""
import hashlib
import json
import re

import pytest
from PIL import Image

from mnd.pipeline.export.formats import LABELS, human_bytes
from mnd.pipeline.manifest import ARTIFACT_KINDS
from mnd.pipeline.report.intervals import accuracy_interval

pytestmark = pytest.mark.slow
FAST = ("--runs", "5", "--warmup", "1")
KERAS_EXPORT_KINDS = ("tflite_float", "tflite_int8", "onnx_float", "onnx_int8", "tflm_c_source", "tflm_c_header",
                      "tflm_op_resolver")


@pytest.fixture(scope="module")
def exported(digits_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    from tests.conftest import run_mnd
    result = run_mnd("export", "--model", digits_run, "--target", "host", "--out", out, "--json", *FAST, check=0)
    return out, result


def test_export_json_stdout_is_the_manifest_written(exported):
    out, result = exported
    assert json.loads(result.stdout) == json.loads((out / "manifest.json").read_text())
    assert result.stdout == (out / "manifest.json").read_text()


def test_native_log_lines_are_silenced_without_verbose(exported):
    """TensorFlow's and absl's C++ log lines (E0000 ... node_def_util.cc ...) never reach the user's terminal."""
    _, result = exported
    native = [line for line in result.stderr.splitlines() if re.match(r"[IWEF]\d{4} |WARNING: All log messages", line)]
    assert native == [] and all(line.startswith("mnd: ") for line in result.stderr.splitlines()), result.stderr


def test_manifest_has_every_artifact_validation_and_measurement(exported):
    out, result = exported
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema"] == "mnd.manifest/1"
    assert manifest["model"]["input_shape"] == [1, 32, 32, 1] and manifest["model"]["classes"] == 10
    assert manifest["model"]["alpha"] == 0.25 and manifest["model"]["preprocessing"]["mode"] == "unit"
    assert manifest["quantization"]["scheme"] == "int8-per-channel"
    assert manifest["quantization"]["calibration_samples"] == 200
    assert sorted(a["kind"] for a in manifest["artifacts"]) == sorted(KERAS_EXPORT_KINDS)
    assert set(KERAS_EXPORT_KINDS) <= set(ARTIFACT_KINDS)
    for artifact in manifest["artifacts"]:
        data = (out / artifact["path"]).read_bytes()
        assert len(data) == artifact["bytes"] and hashlib.sha256(data).hexdigest() == artifact["sha256"]
    names = {v["name"]: v for v in manifest["validations"]}
    assert all(v["passed"] for v in names.values()), names
    assert names["tflm (from .cc) vs litert reference"]["value"] == 0
    pairs = {(m["runtime"], m["artifact"]) for m in manifest["measurements"]}
    assert pairs == {("litert", "tflite_float"), ("litert", "tflite_int8"), ("litert-ref", "tflite_float"),
                     ("litert-ref", "tflite_int8"), ("onnxruntime", "onnx_float"), ("onnxruntime", "onnx_int8"),
                     ("tflm", "tflm_c_source")}
    for m in manifest["measurements"]:
        assert m["n"] == manifest["data"]["evaluation"]["samples"] > 300
        assert m["accuracy"] > 0.9 and m["runs"] == 5 and m["emulated"] is False
        assert 0 < m["latency_ms"]["p50"] <= m["latency_ms"]["p90"]
        assert m["instructions"] is None and m["flash_bytes"] is None
    assert manifest["environment"]["cpu_model"] and "isa_flags" in manifest["environment"]
    assert "next:" in result.stderr.splitlines()[-1]


def test_log_names_each_artifact_where_it_lands_with_time_and_size(exported):
    """One line per artifact, at its final path under --out (not the staging folder), with its time and size; the
    validations with theirs; temporary files never named."""
    out, result = exported
    manifest = json.loads((out / "manifest.json").read_text())
    for artifact in manifest["artifacts"]:
        label = LABELS[artifact["kind"]]
        shown = re.escape(f"{out / artifact['path']} ({human_bytes(artifact['bytes'])})")
        lines = [line for line in result.stderr.splitlines() if line.startswith(f"mnd: {label}: export success")]
        assert len(lines) == 1 and re.fullmatch(rf"mnd: {label}: export success \d+\.\d s, saved as {shown}",
                                                lines[0]), result.stderr
    for validation in manifest["validations"]:
        assert re.search(rf"validation: {re.escape(validation['name'])}: passed in \d+\.\d s", result.stderr)
    assert re.search(r"host: 7 measurement\(s\) in \d+\.\d s", result.stderr)
    for internal in ("bias_check", "logits.onnx", "from_c_array", "prepared.onnx", "partial", "mnd-"):
        assert internal not in result.stderr, internal


def test_bias_correction_is_decided_on_held_out_calibration_inputs(exported):
    out, _ = exported
    quant = json.loads((out / "manifest.json").read_text())["quantization"]
    choice = quant["bias_correction"]
    assert choice["mode"] == "auto" and choice["fit_samples"] == choice["check_samples"] == 100
    assert choice["applied"] is (choice["drop_in_standard_errors"] > 2) is quant["bias_correct"]
    assert (choice["error_with"] < choice["error_without"]) is (choice["drop_in_standard_errors"] > 0)
    assert bool(quant["float_model_changes"].get("bias_correction")) is choice["applied"]
    assert choice["line"] in (out / "report.md").read_text()


def test_report_rows_and_next_command(exported):
    out, _ = exported
    report = (out / "report.md").read_text()
    assert report.count("| tflite_int8 |") >= 3 and "ONNX Runtime" in report
    assert report.index("## Summary") < report.index("## Artifacts") < report.index("## Measurements on `host`") \
        < report.index("## Quantization quality by layer")
    assert f"\n- next: Build `{out}/tflm/`" in report.split("\n## ")[1]  # the Summary: after the title
    assert f"mnd measure {out} --target host" in report


def test_export_prints_the_summary_before_what_it_wrote(exported):
    """Accuracy with its 95% interval and latency per runtime, and the validation verdict, on stderr."""
    out, result = exported
    manifest = json.loads((out / "manifest.json").read_text())
    lines = result.stderr.splitlines()
    wrote = next(index for index, line in enumerate(lines) if line.startswith("mnd: wrote "))
    for m in manifest["measurements"]:
        accuracy = f"mnd:   host {m['runtime']} on {m['artifact']}: accuracy {accuracy_interval(m['accuracy'], m['n'])}"
        assert any(line.startswith(accuracy) and " ms, 1 thread" in line for line in lines[:wrote]), accuracy
    gated = sum(v["gated"] for v in manifest["validations"])
    assert lines[wrote - 1].startswith(f"mnd: validation: all {gated} gated checks pass"), lines[wrote - 1]


def test_c_array_header_is_self_sufficient(exported):
    out, _ = exported
    header = next((out / "tflm").glob("*_model_data.h")).read_text()
    for needle in ("alignas", "TensorArenaSize", "Labels"):
        assert needle in header or needle in next((out / "tflm").glob("*_model_data.cc")).read_text()


def artifact_hashes(run) -> dict:
    return {a["kind"]: a["sha256"] for a in json.loads((run / "manifest.json").read_text())["artifacts"]}


def test_a_tflite_only_export_writes_the_same_tflite_files_and_checks_only_them(digits_run, exported, tmp_path,
                                                                                mnd):
    """--formats tflite: the same bytes as the full export's .tflite files (artifacts are a function of the inputs),
    nothing else written, built, validated or measured; test_train_then_export... compares every kind."""
    first, _ = exported
    second = tmp_path / "again"
    result = mnd("export", "--model", digits_run, "--out", second, "--formats", "tflite", "--runs", "1", "--warmup",
                 "0", check=0)
    tflite = {kind: digest for kind, digest in artifact_hashes(first).items() if kind.startswith("tflite_")}
    assert artifact_hashes(second) == tflite and len(tflite) == 2
    manifest = json.loads((second / "manifest.json").read_text())
    paths = [a["path"] for a in manifest["artifacts"]]
    written = sorted(str(p.relative_to(second)) for p in second.rglob("*") if p.is_file())
    assert written == sorted(["manifest.json", "report.md", "report.html", *paths])
    for path in paths:
        assert (second / path).read_bytes() == (first / path).read_bytes(), path
    assert manifest["formats"] == ["tflite"] and json.loads((first / "manifest.json").read_text())["formats"] == \
        ["tflite", "onnx", "tflm"]
    assert [v["name"] for v in manifest["validations"]] == ["tflite_float vs keras (logits)",
                                                           "int8 vs float accuracy drop (points)"]
    assert {(m["runtime"], m["artifact"]) for m in manifest["measurements"]} == {
        ("litert", "tflite_float"), ("litert", "tflite_int8"), ("litert-ref", "tflite_float"),
        ("litert-ref", "tflite_int8")}
    for never in ("tf2onnx", "ONNX", "TFLite-Micro", "tflm"):
        assert never not in result.stderr, never
    assert "measuring only what this run has: exported with --formats tflite" in result.stderr


def test_an_unknown_format_is_refused_before_any_work(tmp_path, mnd):
    result = mnd("export", "--model", "mobilenet_v1_025_32", "--formats", "tflite,nope", "--out", tmp_path / "out")
    assert result.returncode == 2 and result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert "unknown format 'nope': choose from tflite, onnx, tflm" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_train_then_export_in_one_process_equals_a_cached_reexport(tmp_path, mnd):
    """Artifacts are a function of the inputs, not of what the process did before (tf2onnx's name counter)."""
    env = {"MND_CACHE": str(tmp_path / "cache")}
    # One epoch leaves a near-chance model: its int8 ONNX and TFLite top-1 differ on many near-ties, which the gate
    # does not count, so the export passes its validations.
    flags = ("--train-epochs", "1", *FAST)
    trained = mnd("export", *flags, "--out", tmp_path / "trained", env=env, check=0)
    cached = mnd("export", *flags, "--out", tmp_path / "cached", env=env, check=0)
    assert "training" in trained.stderr and "reusing the cached training run" in cached.stderr
    hashes = artifact_hashes(tmp_path / "trained")
    assert set(hashes) == set(KERAS_EXPORT_KINDS) and hashes == artifact_hashes(tmp_path / "cached")


def test_measure_remeasures_without_reexporting(exported, mnd):
    out, _ = exported
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tflite")}
    result = mnd("measure", out, "--target", "host", "--runs", "3", "--warmup", "0", "--json", check=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert json.loads(result.stdout) == manifest
    assert {m["runs"] for m in manifest["measurements"]} == {3}
    assert all(f"accuracy {accuracy_interval(m['accuracy'], m['n'])} (n={m['n']})" in result.stderr
               for m in manifest["measurements"]), "measure prints the summary too"
    assert before == {p.name: p.stat().st_mtime_ns for p in out.glob("*.tflite")}
    # one rule: a row replaces the earlier row with its key (target, runtime, artifact, threads); others stay
    mnd("measure", out, "--target", "host", "--threads", "2", "--runs", "2", "--warmup", "0", check=0)
    rows = json.loads((out / "manifest.json").read_text())["measurements"]
    keys = [(m["target"], m["runtime"], m["artifact"], m["threads"]) for m in rows]
    assert len(keys) == len(set(keys))
    two = {(m["runtime"], m["artifact"]) for m in rows if m["threads"] == 2}
    assert two and {m["runs"] for m in rows if m["threads"] == 2} == {2}
    assert {(m["runtime"], m["artifact"]): m["runs"] for m in rows if m["threads"] == 1
            and (m["runtime"], m["artifact"]) in two} == dict.fromkeys(two, 3), "the one-thread rows stay"


def test_failed_validation_leaves_nothing_and_prints_the_table(digits_run, tmp_path, mnd):
    """Calibrated on black images, int8 saturates: the accuracy contract fails, and the table lists every check. The
    ONNX-vs-TFLite top-1 check does not count the disagreements, all within the saturated TFLite model's own error
    against float (near-ties of a model this far from float; its accuracy drop is the failure to see)."""
    black = tmp_path / "data" / "black"
    for digit in range(10):
        (black / str(digit)).mkdir(parents=True)
        for index in range(2):
            Image.new("L", (8, 8), 0).save(black / str(digit) / f"{index}.png")
    flags = ("--calib", black, "--eval", "digits", "--eval-samples", "300", *FAST)
    out = tmp_path / "strict"
    result = mnd("export", "--model", digits_run, "--out", out, *flags)
    assert result.returncode == 3
    assert "int8 vs float accuracy drop" in result.stderr and result.stderr.count("FAIL") == 1
    assert "onnx_int8 vs tflite_int8 top-1" in result.stderr and "quantization error (near-ties" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]
    kept = tmp_path / "kept"
    mnd("export", "--model", digits_run, "--out", kept, "--allow-drift", *flags, check=0)
    manifest = json.loads((kept / "manifest.json").read_text())
    assert [v["name"] for v in manifest["validations"] if not v["passed"]] == ["int8 vs float accuracy drop (points)"]


@pytest.mark.parametrize("make_input, message", [
    ("truncated_keras", "is the file complete"),
    ("not_an_image_model", "square"),
    ("missing_model", "not found"),
    ("existing_out", "--force"),
    ("empty_class", "no readable images"),
])
def test_bad_input(tmp_path, mnd, digits_run, make_input, message):
    import keras

    args = ["--model", digits_run]
    out = tmp_path / "out"
    if make_input == "truncated_keras":
        data = (digits_run / "model.keras").read_bytes()
        (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
        args = ["--model", tmp_path / "cut.keras"]
    elif make_input == "not_an_image_model":
        model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(2)])
        model.save(tmp_path / "dense.keras")
        args = ["--model", tmp_path / "dense.keras"]
    elif make_input == "missing_model":
        args = ["--model", tmp_path / "nothing.keras"]
    elif make_input == "existing_out":
        out.mkdir()
    elif make_input == "empty_class":  # the model's 10 classes, the last one empty
        for digit in range(10):
            (tmp_path / "calib" / str(digit)).mkdir(parents=True)
            if digit < 9:
                Image.new("L", (8, 8), 0).save(tmp_path / "calib" / str(digit) / "x.png")
        args += ["--calib", tmp_path / "calib"]
    result = mnd("export", *args, "--out", out, *FAST)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not out.exists() or make_input == "existing_out"
    assert not list(tmp_path.glob(".out.partial-*"))


def test_targets_and_doctor(mnd):
    assert "host" in mnd("targets", check=0).stdout
    doctor = json.loads(mnd("doctor", "--json", check=0).stdout)
    assert doctor["packages"]["tensorflow-cpu"] == "2.21.0"
    assert {tool["name"] for tool in doctor["tools"]} >= {"qemu-system-arm", "arm-none-eabi-gcc"}
    ssh = next(tool for tool in doctor["tools"] if tool["name"] == "ssh")
    assert not ssh["found"] or ssh["version"].startswith("OpenSSH"), ssh
    assert all(tool["install"] for tool in doctor["tools"] if not tool["found"])
