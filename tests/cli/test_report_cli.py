"""`mnd report RUN` re-renders a run's report.md and report.html in place; `mnd report RUN RUN ... --out DIR`
writes one comparison report; mistakes are refused with one line (exit 2) and leave nothing behind."""
import json
import shutil
import stat
from pathlib import Path

import pytest

from tests.conftest import run_mnd
from tests.unit.test_html_report import Page

pytestmark = pytest.mark.slow
FAST = ("--runs", "1", "--warmup", "0")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("report")
    run_mnd("export", "--train-epochs", "0", "--allow-drift", "--target", "host", "--out", base / "run",
            "--eval-samples", "20", *FAST, env={"MND_CACHE": str(base / "cache")}, check=0)
    return base / "run"


def assert_refused(result, phrase: str) -> None:
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert result.returncode == 2, result.stderr
    assert len(errors) == 1 and phrase in errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def assert_embedded_pngs(html: Path, at_least: int) -> None:
    images = Page(html.read_text()).images()
    assert len(images) >= at_least and all(src.startswith("data:image/png;base64,iVBORw0KGgo") for src in images)


def test_export_writes_report_html_with_the_confusion_matrix(exported):
    manifest = json.loads((exported / "manifest.json").read_text())
    evaluation = manifest["evaluation"]
    assert (evaluation["runtime"], evaluation["artifact"], evaluation["samples"]) == ("litert-ref", "tflite_int8", 20)
    assert sum(map(sum, evaluation["matrix"])) == 20 == sum(evaluation["row_totals"])
    html = (exported / "report.html").read_text()
    assert "Confusion matrix" in html and f"mnd measure {exported} --target host" in html
    assert_embedded_pngs(exported / "report.html", 2)


def test_report_rerenders_one_run_in_place(exported, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(exported, run)
    (run / "report.html").unlink()
    (run / "report.md").write_text("stale\n")
    (run / "report.md").chmod(0o640)
    (run / "manifest.json").chmod(0o604)
    manifest = (run / "manifest.json").read_bytes()
    result = run_mnd("report", run, check=0)
    report = (run / "report.md").read_text()
    assert report.startswith("# mnd export:") and f"mnd measure {run} --target host" in report
    assert_embedded_pngs(run / "report.html", 2)
    assert stat.S_IMODE((run / "report.md").stat().st_mode) == 0o640
    assert stat.S_IMODE((run / "report.html").stat().st_mode) == 0o604  # a new report takes manifest.json's mode
    assert (run / "manifest.json").read_bytes() == manifest
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []
    last = result.stderr.splitlines()[-1]
    assert last.startswith("mnd: next:") and str(run / "report.html") in last


def test_report_compares_two_runs_into_out(exported, tmp_path):
    second = tmp_path / "second"
    shutil.copytree(exported, second)
    out = tmp_path / "comparison"
    result = run_mnd("report", exported, second, "--out", out, check=0)
    report = (out / "report.md").read_text()
    model = json.loads((exported / "manifest.json").read_text())["model"]["name"]
    measurements = len(json.loads((exported / "manifest.json").read_text())["measurements"])
    for name in (exported.name, second.name):
        assert report.count(f"\n| {name} | {model} | host | ") == measurements
    assert_embedded_pngs(out / "report.html", 1)
    assert json.loads((out / "manifest.json").read_text())["schema"] == "mnd.comparison/1"
    assert str(out / "report.html") in result.stderr.splitlines()[-1]
    assert_refused(run_mnd("report", exported, second, "--out", out), "exists")
    run_mnd("report", exported, second, "--out", out, "--force", check=0)


def test_several_runs_without_out_are_refused(exported, tmp_path):
    assert_refused(run_mnd("report", exported, exported, cwd=tmp_path), "needs --out")
    assert list(tmp_path.iterdir()) == []


def test_one_run_with_out_is_refused(exported, tmp_path):
    assert_refused(run_mnd("report", exported, "--out", tmp_path / "out"), "--out is for comparing several runs")
    assert not (tmp_path / "out").exists()


def test_a_missing_run_is_refused(exported, tmp_path):
    assert_refused(run_mnd("report", tmp_path / "missing"), "has no manifest.json")
    assert_refused(run_mnd("report", exported, tmp_path / "missing", "--out", tmp_path / "out"),
                   "has no manifest.json")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == []


def test_out_inside_a_run_is_refused(exported):
    assert_refused(run_mnd("report", exported, exported, "--out", exported / "comparison"), "overlaps the input")
    assert not (exported / "comparison").exists()


def test_measure_rewrites_report_html_too(exported, tmp_path):
    run = tmp_path / "measured"
    shutil.copytree(exported, run)
    (run / "report.html").unlink()
    run_mnd("measure", run, "--target", "host", *FAST, check=0)
    assert f"mnd measure {run} --target host" in (run / "report.html").read_text()
    assert_embedded_pngs(run / "report.html", 2)
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []
