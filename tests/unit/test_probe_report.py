"""A board row from --probe in the manifest and the reports: its own section (cycles and milliseconds at the
preset's clock, or why there are none), its own summary row beside the emulated one, a per-layer cycles figure,
and the reader's schema accepts it."""
import json
from dataclasses import replace

from mnd.base.json_shape import check
from mnd.pipeline.manifest import MANIFEST_SHAPE
from mnd.pipeline.report.html import run_figures
from mnd.pipeline.report.markdown import render
from mnd.pipeline.report.summary import terminal_lines
from mnd.targets.cortex_m.probe_state import COUNTER_ABSENT, NOT_ADVANCING
from tests.unit.test_html_report import LAYERS, sample_manifest

PROBE = {"url": "gdb://127.0.0.1:3333", "board": "nucleo-l4r5zi", "part": "STM32L4R5ZI", "cycle_counter": "DWT CYCCNT",
         "note": None}


def with_board_row(**changes):
    manifest = sample_manifest()
    (cortex,) = [m for m in manifest.measurements if m.target == "cortex-m4"]
    cycles = [{"index": layer["index"], "op": layer["op"], "macs": layer["macs"], "cycles": 2 * layer["instructions"]}
              for layer in LAYERS]
    board = replace(cortex, emulated=False, instructions=None, layers=cycles, clock_mhz=120.0, probe=PROBE,
                    cycles=983_236, latency_ms={"p50": 8.19, "p90": 8.2})
    board = replace(board, **changes)
    return replace(manifest, measurements=(*manifest.measurements, board))


def test_counted_cycles_are_reported_as_measured_on_the_board():
    manifest = with_board_row()
    assert check(json.loads(manifest.to_json()), MANIFEST_SHAPE) == []
    report = render(manifest)
    assert "### `cortex-m4` on a board: nucleo-l4r5zi (STM32L4R5ZI) through `gdb://127.0.0.1:3333`" in report
    assert "- cycles per inference (DWT CYCCNT, measured on the board): 983,236 = 8.19 ms at the preset's 120 MHz" \
        in report
    assert "| 0 | CONV_2D | 18,432 | 457,920 | 24.84 |" in report
    assert "| cortex-m4 (emulated) | mnd-c |" in report and "| cortex-m4 (nucleo-l4r5zi via probe) | mnd-c |" in report
    assert any("8.190 / 8.200 ms" in line for line in terminal_lines(manifest))
    captions = [caption for _, caption in run_figures(manifest)]
    assert "Mult-adds and DWT cycles on the board per layer (cortex-m4, mnd-c)." in captions


def test_an_absent_counter_says_so_and_shows_no_cycles():
    layers = [{key: layer[key] for key in ("index", "op", "macs")} for layer in LAYERS]
    manifest = with_board_row(cycles=None, latency_ms=None, layers=layers,
                              probe={**PROBE, "cycle_counter": "absent", "note": COUNTER_ABSENT[NOT_ADVANCING]})
    assert check(json.loads(manifest.to_json()), MANIFEST_SHAPE) == []
    report = render(manifest)
    assert f"- no cycles: {COUNTER_ABSENT[NOT_ADVANCING]}" in report and "| cycles | per MAC |" not in report
    assert "| cortex-m4 (nucleo-l4r5zi via probe) | mnd-c | tflite_int8 | 80.0% [65.2, 89.5] | 40 | no cycle counter " \
           "on the board |" in report
    assert not any("DWT cycles" in caption for _, caption in run_figures(manifest))


def test_cycles_without_a_board_have_no_milliseconds():
    """--probe without --board: a counter's cycles, but no preset clock to turn them into milliseconds."""
    manifest = with_board_row(clock_mhz=None, latency_ms=None,
                              probe={**PROBE, "board": "mps2-an386",
                                     "part": "QEMU's cortex-m4 memory map (no --board)"})
    assert check(json.loads(manifest.to_json()), MANIFEST_SHAPE) == []
    report = render(manifest)
    assert "- cycles per inference (DWT CYCCNT, measured on the board): 983,236 (no --board: no clock, so no " \
           "milliseconds)" in report
    assert "| cortex-m4 (mps2-an386 via probe) | mnd-c |" in report and " ms at the preset's" not in report
    assert any("mps2-an386 via probe" in line for line in terminal_lines(manifest))
