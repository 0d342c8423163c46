"""`mnd sweep`: the alpha x resolution grid exported and measured per variant, resumed when run again, refused when
the settings change, a failing variant recorded while the sweep goes on, budgets marking what does not fit."""
import json
import shutil
from pathlib import Path

import matplotlib.text
import pytest

from mnd.pipeline.model.architecture import ModelSpec
from mnd.pipeline.model.summary import summarize
from tests.conftest import run_mnd
from tests.tour_runs import tour_output

pytestmark = pytest.mark.slow
FAST = ("--runs", "3", "--warmup", "1")
SMALL_GRID = ("--alpha", "0.25,0.5", "--resolution", "32,48")
ROW_KEYS = {"alpha", "resolution", "mult_adds", "params", "int8_bytes", "ram_bytes", "flash_bytes", "latency_ms_p50",
            "instructions", "float_acc", "int8_acc", "fits", "error"}


def sweep(*args, check=0):
    return run_mnd("sweep", *args, check=check)


def rows_of(folder: Path) -> dict:
    doc = json.loads((folder / "sweep.json").read_text())
    return {(row["alpha"], row["resolution"]): row for row in doc["rows"]}


def assert_refused(result, phrase: str) -> None:
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert result.returncode == 2, result.stderr
    assert len(errors) == 1 and phrase in errors[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def host_sweep(tmp_path_factory) -> tuple:
    """alpha 0.25 and 0.5 x 32 and 48 on the host, cost-only, within a 1000 KiB flash budget (alpha 0.5's 1.3 M
    int8 weights are over it); the same command twice."""
    out = tmp_path_factory.mktemp("sweep") / "host"
    command = ("--target", "host", "--cost-only", *SMALL_GRID, "--flash-kb", "1000", "--out", out, *FAST)
    first = sweep(*command)
    before = (out / "sweep.json").read_text()
    second = sweep(*command)
    return out, first, second, before


def test_cost_only_rows_have_counts_sizes_latency_and_no_accuracy(host_sweep):
    out, first, _, _ = host_sweep
    rows = rows_of(out)
    assert sorted(rows) == [(0.25, 32), (0.25, 48), (0.5, 32), (0.5, 48)]
    for (alpha, side), row in rows.items():
        assert ROW_KEYS <= set(row)
        doc = summarize(ModelSpec(alpha=alpha, side=side, classes=1000, channels=3))
        assert (row["mult_adds"], row["params"]) == (doc["mult_adds"], doc["params"])
        assert row["float_acc"] is None and row["int8_acc"] is None and row["error"] is None
    for side in (32, 48):
        measured = rows[(0.25, side)]
        assert measured["status"] == "measured" and measured["fits"] is True
        assert measured["latency_ms_p50"] > 0 and measured["instructions"] is None
        manifest = json.loads((out / measured["run_dir"] / "manifest.json").read_text())
        assert [a["kind"] for a in manifest["artifacts"]] == ["tflite_int8"]
        assert measured["int8_bytes"] == manifest["artifacts"][0]["bytes"] > measured["params"]
        assert manifest["validations"] == [] and any("cost-only" in w for w in manifest["warnings"])
        assert (out / measured["run_dir"] / "report.md").is_file()
    assert rows[(0.25, 48)]["latency_ms_p50"] > 0 and rows[(0.25, 32)]["mult_adds"] < rows[(0.25, 48)]["mult_adds"]


def test_variants_over_the_flash_budget_are_marked_and_not_run(host_sweep):
    out, _, _, _ = host_sweep
    for side in (32, 48):
        row = rows_of(out)[(0.5, side)]
        assert row["fits"] is False and row["status"] == "does not fit" and row["run_dir"] is None
        assert "--flash-kb budget" in row["fit_detail"]
        assert not (out / "variants" / f"mobilenet_v1_050_{side}").exists()
    report = (out / "report.md").read_text()
    assert "`mobilenet_v1_050_32` not run: int8 weights alone need 1.26 MiB" in report
    assert "random weights say nothing" in report


def test_running_the_same_command_again_skips_finished_variants(host_sweep):
    out, first, second, before = host_sweep
    assert "variant 1 of 4: mobilenet_v1_025_32" in first.stderr
    assert "resuming" in second.stderr and "4 of 4 variants finished earlier are kept" in second.stderr
    assert "variant 1 of 4" not in second.stderr and "calibrating" not in second.stderr
    assert (out / "sweep.json").read_text() == before


def test_report_html_embeds_the_cost_and_memory_plots(host_sweep):
    out, _, _, _ = host_sweep
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert "Cost vs mult-adds" in page and "Memory per variant" in page and "Accuracy vs" not in page
    assert "<script" not in page and "http" not in page


def test_changed_settings_are_refused_naming_force(host_sweep, tmp_path):
    out, _, _, _ = host_sweep
    result = sweep("--target", "host", "--cost-only", *SMALL_GRID, "--flash-kb", "1000", "--out", out, "--runs", "7",
                   "--warmup", "1", check=2)
    assert_refused(result, "runs 3 -> 7")
    assert "--force" in result.stderr


def test_sixteen_model_grid_counts_equal_mnd_summary_and_a_tiny_budget_runs_nothing(tmp_path):
    out = tmp_path / "grid"
    result = sweep("--target", "cortex-m4", "--cost-only", "--flash-kb", "1", "--out", out, check=0)
    summary = json.loads(run_mnd("summary", "--grid", "--json", check=0).stdout)
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert [(r["alpha"], r["resolution"], r["mult_adds"], r["params"]) for r in rows] == \
        [(s["alpha"], s["side"], s["mult_adds"], s["params"]) for s in summary]
    assert all(row["fits"] is False and row["status"] == "does not fit" for row in rows)
    alpha_1 = [row for row in rows if row["alpha"] == 1.0]
    assert all("cortex-m4 code region" in row["fit_detail"] for row in alpha_1)  # 4.2 M weights over 4 MiB
    assert all("--flash-kb budget" in row["fit_detail"] for row in rows if row["alpha"] != 1.0)
    assert "calibrating" not in result.stderr


def test_a_failing_variant_is_recorded_and_the_sweep_goes_on_then_retried(tmp_path):
    out = tmp_path / "m4"
    common = ("--target", "cortex-m4", "--cost-only", "--alpha", "0.25", "--out", out)
    sweep(*common, "--resolution", "32")
    blocker = out / "variants" / "mobilenet_v1_025_48"
    blocker.parent.mkdir(exist_ok=True)
    blocker.write_text("not a run directory")
    failed = sweep(*common, "--resolution", "32,48,64", check=1)
    rows = rows_of(out)
    assert rows[(0.25, 48)]["status"] == "failed" and "OutputError" in rows[(0.25, 48)]["error"]
    assert rows[(0.25, 48)]["fits"] is None
    assert "1 of 3 variants failed (mobilenet_v1_025_48)" in failed.stderr
    assert rows[(0.25, 64)]["status"] == "measured", "the sweep went on after the failure"
    assert "mobilenet_v1_025_48` failed: OutputError" in (out / "report.md").read_text()
    for side in (32, 64):
        row = rows[(0.25, side)]
        assert row["emulated"] is True and row["instructions"] > row["mult_adds"] and row["latency_ms_p50"] is None
        assert 0 < row["ram_bytes"] < 4 * 2**20 and row["params"] < row["flash_bytes"] < 4 * 2**20
        assert row["fits"] is True and "cortex-m4 code region" in row["fit_detail"]
    blocker.unlink()
    retried = sweep(*common, "--resolution", "32,48,64")
    assert "2 of 3 variants finished earlier are kept" in retried.stderr
    assert rows_of(out)[(0.25, 48)]["status"] == "measured"
    assert rows_of(out)[(0.25, 32)] == rows[(0.25, 32)]


def test_emulated_instruction_counts_are_labelled_on_the_plot(tmp_path):
    from mnd.pipeline.sweep.plots import cost_figure

    rows = [{"alpha": 0.25, "resolution": side, "mult_adds": macs, "instructions": 10 * macs, "emulated": True,
             "latency_ms_p50": None} for side, macs in ((32, 1_000), (48, 2_000))]
    figure = cost_figure(rows, "cortex-m4")
    figure.canvas.draw()
    texts = [text.get_text() for text in figure.findobj(matplotlib.text.Text)]
    assert any("emulated (QEMU)" in text for text in texts) and "instructions per inference" in texts


@pytest.mark.assets  # the tour takes the example files and the emulators too
@pytest.mark.emulator
def test_trained_sweep_gives_float_and_int8_accuracy_and_the_figure_4_plot(tour):
    """The README tour's `mnd sweep --target host --dataset digits --alpha 0.25 --resolution 32,48 --epochs 2`."""
    out = tour_output(tour, "out/sweep-digits")
    rows = rows_of(out)
    for side in (32, 48):
        row = rows[(0.25, side)]
        assert row["status"] == "measured" and row["error"] is None
        assert 0 <= row["float_acc"] <= 1 and 0 <= row["int8_acc"] <= 1
        doc = summarize(ModelSpec(alpha=0.25, side=side, classes=10, channels=1))
        assert (row["mult_adds"], row["params"]) == (doc["mult_adds"], doc["params"])
        manifest = json.loads((out / row["run_dir"] / "manifest.json").read_text())
        measured = {(m["runtime"], m["artifact"]): m["accuracy"] for m in manifest["measurements"]}
        assert row["float_acc"] == measured[("litert", "tflite_float")]
        assert row["int8_acc"] == measured[("litert", "tflite_int8")]
        assert (out / "training" / f"mobilenet_v1_025_{side}" / "model.keras").is_file()
    page = (out / "report.html").read_text()
    assert "Accuracy vs mult-adds (as paper Figure 4)" in page and "Accuracy vs parameters" in page
    assert page.count('src="data:image/png;base64,') == 4


@pytest.mark.parametrize("args, phrase", [
    ((), "give either --dataset D"),
    (("--cost-only", "--dataset", "digits"), "give either --dataset D"),
    (("--dataset", "digits", "--classes", "5"), "--classes and --channels are for --cost-only"),
    (("--cost-only", "--alpha", "0.333"), "more than two decimals"),
    (("--cost-only", "--resolution", "224,16"), "resolution 16 is too small"),
    (("--cost-only", "--alpha", "0.5,0.5"), "names the same alpha twice"),
    (("--cost-only", "--target", "cortex-m5"), "did you mean"),
])
def test_mistakes_are_refused_with_one_line(tmp_path, args, phrase):
    result = sweep(*args, "--out", tmp_path / "never", check=2)
    assert phrase in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "never").exists()


def test_a_folder_that_is_not_a_sweep_is_never_touched(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = sweep("--cost-only", "--alpha", "0.25", "--resolution", "32", "--out", folder, "--force", check=2)
    assert "not a sweep folder" in result.stderr and (folder / "notes.txt").read_text() == "keep me"
    shutil.rmtree(folder)


def test_an_oversized_grid_and_a_tampered_record_are_refused_in_one_line(host_sweep, tmp_path):
    sides = ",".join(str(side) for side in range(32, 32 + 4 * 17, 4))
    oversized = sweep("--cost-only", "--alpha", "0.25,0.5,0.75,1", "--resolution", sides, "--out", tmp_path / "big",
                      check=2)
    assert_refused(oversized, "the grid has 68 variants")
    assert "--max-variants 68" in oversized.stderr and not (tmp_path / "big").exists()
    out = tmp_path / "copy"
    shutil.copytree(host_sweep[0], out)
    record = out / "rows.jsonl"
    lines = record.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "params": "many"})
    record.write_text("\n".join(lines) + "\n")
    sweep_json = (out / "sweep.json").read_text()
    tampered = sweep("--target", "host", "--cost-only", *SMALL_GRID, "--flash-kb", "1000", "--out", out, *FAST,
                     check=2)
    assert_refused(tampered, f"'{record}' line 2 (variant 'mobilenet_v1_025_48') is not a row mnd writes: params: a "
                             "string where an integer belongs")
    assert (out / "sweep.json").read_text() == sweep_json
