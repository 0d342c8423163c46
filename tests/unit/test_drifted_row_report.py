"""A tflm-cmsis-nn row kept with --allow-drift although its outputs differ from LiteRT's reference: report.md's summary,
its own section, report.html and the terminal lines show the failed check beside its accuracy, and never call its
outputs bit-exact; the mnd-c row beside it, whose check passed, reads as before."""
from dataclasses import replace

from mnd.pipeline.manifest import Validation
from mnd.pipeline.report.html import markdown_to_html
from mnd.pipeline.report.markdown import render
from mnd.pipeline.report.summary import terminal_lines
from tests.unit.test_html_report import Page, sample_manifest

CHECK = "cortex-m4 tflm-cmsis-nn vs litert reference"
DETAIL = "3 of 40 samples differ (first: sample 5)"
BIT_EXACT = "every output bit-exact with LiteRT's reference kernels"


def drifted(passed: bool):
    manifest = sample_manifest()
    (ours,) = [m for m in manifest.measurements if m.target == "cortex-m4"]
    tflm = replace(ours, runtime="tflm-cmsis-nn", accuracy=0.775, instructions=1_204_331)
    check = Validation(CHECK, passed, 0.0 if passed else 3.0, 0.0, "0 of 40 samples differ" if passed else DETAIL)
    return replace(manifest, measurements=(*manifest.measurements, tflm),
                   validations=(*manifest.validations, check))


def section(report: str, runtime: str) -> str:
    start = report.index(f"### `cortex-m4` (QEMU, emulated): {runtime} on tflite_int8")
    return report[start:report.index("| layer |", start)]


def test_a_drifted_tflm_row_shows_its_failed_check_beside_its_accuracy():
    manifest = drifted(passed=False)
    report = render(manifest)
    failed = f"FAILED {CHECK}: {DETAIL} (kept with --allow-drift)"
    (row,) = [line for line in report.splitlines() if line.startswith("| cortex-m4 (emulated) | tflm-cmsis-nn |")]
    assert f"| 77.5% [62.5, 87.7] — {failed} | 40 |" in row
    (ours,) = [line for line in report.splitlines() if line.startswith("| cortex-m4 (emulated) | mnd-c |")]
    assert "FAILED" not in ours
    tflm_section = section(report, "tflm-cmsis-nn")
    assert f"on 40 samples, **FAILED** {CHECK}: {DETAIL} (kept with --allow-drift)" in tflm_section
    assert BIT_EXACT not in tflm_section and BIT_EXACT in section(report, "mnd-c")
    assert any(line.startswith("  cortex-m4 (emulated) tflm-cmsis-nn on tflite_int8: accuracy 77.5% [62.5, 87.7] "
                               f"(n=40) — {failed};") for line in terminal_lines(manifest))
    cells = [cell for row in Page(markdown_to_html(report)).rows if row for cell in row]  # report.html's way
    assert f"77.5% [62.5, 87.7] — {failed}" in cells


def test_a_tflm_row_that_passed_reads_bit_exact():
    report = render(drifted(passed=True))
    (row,) = [line for line in report.splitlines() if line.startswith("| cortex-m4 (emulated) | tflm-cmsis-nn |")]
    assert "| 77.5% [62.5, 87.7] | 40 |" in row and BIT_EXACT in section(report, "tflm-cmsis-nn")
