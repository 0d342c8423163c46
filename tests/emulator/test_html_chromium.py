"""report.html in a real browser (headless Chromium, offline): the page renders, and every embedded figure decodes
under the report's own Content-Security-Policy."""
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from mnd.pipeline.report.html import CSP
from mnd.pipeline.report.write import write_reports
from tests.conftest import skip_or_fail
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


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    if not CHROMIUM.is_file():
        skip_or_fail(f"{CHROMIUM} not found (apt-get install chromium)")
    run = tmp_path_factory.mktemp("chromium")
    return write_reports(run, sample_manifest(), str(run))


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
    allowing_scripts = CSP.replace("default-src 'none'", "default-src 'none'; script-src 'unsafe-inline'")
    copy = tmp_path / "report-with-widths.html"
    copy.write_text(report.read_text().replace(f'content="{CSP}"', f'content="{allowing_scripts}"')
                    .replace("</body>", WIDTHS_SCRIPT + "\n</body>"))
    result = chromium("--virtual-time-budget=10000", "--dump-dom", copy.as_uri(), cwd=tmp_path)
    found = re.search(r'<pre id="image-widths">([0-9,]*)</pre>', result.stdout)
    assert found, result.stderr[-2000:]
    widths = [int(width) for width in found.group(1).split(",") if width]
    assert len(widths) == expected and all(width > 0 for width in widths), widths
