"""report.html in a real browser (headless Chromium, offline): the page renders, every embedded figure decodes
under the report's own Content-Security-Policy, and the summary (accuracy with its interval per runtime) is above the
fold of a 1200x1000 window."""
import html
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnd.pipeline.report.html import CSP
from mnd.pipeline.report.write import write_reports
from tests.conftest import skip_or_fail
from mnd.pipeline.report.intervals import accuracy_interval
from tests.unit.report_samples import host_manifest
from tests.unit.test_html_report import Page, sample_manifest

pytestmark = pytest.mark.emulator
CHROMIUM = Path("/usr/bin/chromium")
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"]
# In a copy only: the report's CSP with inline scripts allowed (images still only from data: URIs), and a script
# that writes each image's decoded width into the page after load, for --dump-dom to show.
WIDTHS_SCRIPT = """<script>
window.addEventListener("load", () => {
  const widths = Array.from(document.images, image => image.complete ? image.naturalWidth : 0);
  const out = document.createElement("pre");
  out.id = "image-widths";
  out.textContent = widths.join(",");
  document.body.appendChild(out);
});
</script>"""
# In a copy only: where the summary section and its accuracy-interval cells end, in CSS pixels from the page top.
SUMMARY_SCRIPT = """<script>
window.addEventListener("load", () => {
  const summary = document.getElementById("summary");
  const cells = Array.from(summary.querySelectorAll("td")).filter(cell => /%\\s\\[/.test(cell.textContent));
  const out = document.createElement("pre");
  out.id = "summary-box";
  out.textContent = JSON.stringify({bottom: summary.getBoundingClientRect().bottom, text: summary.innerText,
                                    cells: cells.map(cell => [cell.textContent, cell.getBoundingClientRect().bottom])});
  document.body.appendChild(out);
});
</script>"""
FOLD = 1000


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    if not CHROMIUM.is_file():
        skip_or_fail(f"{CHROMIUM} not found (apt-get install chromium)")
    run = tmp_path_factory.mktemp("chromium")
    return write_reports(run, sample_manifest(), str(run))


@pytest.fixture(scope="module")
def host_report(tmp_path_factory) -> Path:
    """A host export's report: seven runtimes and a 30-row per-layer quantization table."""
    if not CHROMIUM.is_file():
        skip_or_fail(f"{CHROMIUM} not found (apt-get install chromium)")
    run = tmp_path_factory.mktemp("chromium-host")
    return write_reports(run, host_manifest(), str(run))


def with_script(report: Path, script: str, copy: Path) -> Path:
    """A copy of `report` whose CSP also allows inline scripts (images still only from data: URIs), with `script`."""
    allowing_scripts = CSP.replace("default-src 'none'", "default-src 'none'; script-src 'unsafe-inline'")
    copy.write_text(report.read_text().replace(f'content="{CSP}"', f'content="{allowing_scripts}"')
                    .replace("</body>", script + "\n</body>"))
    return copy


def chromium(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), *HEADLESS, f"--user-data-dir={cwd / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180, cwd=cwd)


def test_the_report_renders_without_javascript_or_network(report, tmp_path):
    text = report.read_text()
    assert "<script" not in text.lower() and f'content="{CSP}"' in text
    screenshot = tmp_path / "report.png"
    result = chromium(f"--screenshot={screenshot}", "--window-size=1200,3000", report.as_uri(), cwd=tmp_path)
    assert screenshot.is_file(), result.stderr[-2000:]
    with Image.open(screenshot) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert rgb.getbbox() and len(colours) > 50, "blank screenshot"
        assert max(count for count, _ in colours) < 0.95 * rgb.width * rgb.height, "almost all one colour"


def test_every_figure_decodes_in_the_browser(report, tmp_path):
    expected = len(Page(report.read_text()).images())
    assert expected >= 4
    copy = with_script(report, WIDTHS_SCRIPT, tmp_path / "report-with-widths.html")
    result = chromium("--virtual-time-budget=10000", "--dump-dom", copy.as_uri(), cwd=tmp_path)
    found = re.search(r'<pre id="image-widths">([0-9,]*)</pre>', result.stdout)
    assert found, result.stderr[-2000:]
    widths = [int(width) for width in found.group(1).split(",") if width]
    assert len(widths) == expected and all(width > 0 for width in widths), widths


def test_the_summary_with_every_runtimes_interval_is_above_the_fold(host_report, tmp_path):
    copy = with_script(host_report, SUMMARY_SCRIPT, tmp_path / "report-with-summary-box.html")
    result = chromium("--virtual-time-budget=10000", f"--window-size=1200,{FOLD}", "--dump-dom", copy.as_uri(),
                      cwd=tmp_path)
    found = re.search(r'<pre id="summary-box">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    box = json.loads(html.unescape(found.group(1)))
    measurements = host_manifest().measurements
    assert len(box["cells"]) == len(measurements) == 7
    for m in measurements:
        assert accuracy_interval(m.accuracy, m.n) in box["text"], m
    assert 0 < max(bottom for _, bottom in box["cells"]) <= box["bottom"] <= FOLD, box


def test_the_top_of_the_page_is_not_blank(host_report, tmp_path):
    screenshot = tmp_path / "fold.png"
    result = chromium(f"--screenshot={screenshot}", f"--window-size=1200,{FOLD}", host_report.as_uri(), cwd=tmp_path)
    assert screenshot.is_file(), result.stderr[-2000:]
    with Image.open(screenshot) as image:
        assert image.size == (1200, FOLD)
        inked = np.flatnonzero(np.asarray(image.convert("L")).min(axis=1) < 128)  # rows with dark (text) pixels
    assert len(inked) > 0.2 * FOLD, "the first screen is mostly blank"
    assert inked[0] < 100, "nothing near the top"
