"""`mnd export --board`: manifest.target.part from the measured mnd-c firmware (the reader's schema accepts it), and
the report's Cortex-M section says whether it fits, with instructions / clock labelled as an estimate."""
import json

from mnd.base.json_shape import check
from mnd.pipeline.export.run import with_board_fit, with_target_result
from mnd.pipeline.manifest import MANIFEST_SHAPE
from mnd.pipeline.report.markdown import render
from mnd.targets.base import MeasureSettings, TargetResult
from mnd.targets.cortex_m.boards import BOARDS
from mnd.targets.registry import get_target
from tests.unit.test_html_report import sample_manifest


def test_the_measured_firmware_is_judged_against_the_board_and_reported():
    manifest = sample_manifest()  # its cortex-m4 mnd-c row: flash 254,080 B, RAM 12,036 B, 491,618 instructions
    assert with_board_fit(manifest, None) is manifest
    assert with_board_fit(manifest, BOARDS["nucleo-h7a3zi"]) is manifest  # a cortex-m7 part: no cortex-m7 row
    judged = with_board_fit(manifest, BOARDS["nano33-ble"])
    part = judged.target["part"]
    assert part["fits"] and part["flash"]["margin_bytes"] == 1_048_576 - 254_080
    assert part["ram"]["margin_bytes"] == 262_144 - 12_036 and part["estimate_ms"] == round(491_618 / 64e3, 3)
    assert check(json.loads(judged.to_json()), MANIFEST_SHAPE) == []
    report = render(judged)
    assert "- fits nano33-ble (nRF52840): flash 254,080 of 1,048,576 B (794,496 B left)" in report
    assert "- on the nRF52840: estimate, not a measurement: 491,618 instructions at 64 MHz" in report


def test_measure_on_another_target_keeps_the_verdict_of_the_kept_firmware_row():
    judged = with_board_fit(sample_manifest(), BOARDS["nano33-ble"])
    cortex = tuple(m for m in judged.measurements if m.target == "cortex-m4")
    again = with_target_result(judged, get_target("host"), MeasureSettings(), TargetResult(()), kept=cortex)
    assert again.target["name"] == "host" and again.target["part"] == judged.target["part"]
    gone = with_target_result(judged, get_target("host"), MeasureSettings(), TargetResult(()))
    assert "part" not in gone.target  # no cortex-m4 row left to judge


def test_a_rows_clock_estimate_survives_measuring_another_core():
    from dataclasses import replace

    m4 = next(m for m in sample_manifest().measurements if m.target == "cortex-m4")
    exported = with_target_result(sample_manifest(), get_target("cortex-m4"), MeasureSettings(clock_mhz=80),
                                  TargetResult((replace(m4, clock_mhz=None),)))
    assert [m.clock_mhz for m in exported.measurements if m.target == "cortex-m4"] == [80.0]
    m55 = replace(m4, target="cortex-m55", clock_mhz=None)
    again = with_target_result(exported, get_target("cortex-m55"), MeasureSettings(), TargetResult((m55,)),
                               kept=exported.measurements)
    assert again.target["options"]["clock_mhz"] is None
    assert check(json.loads(again.to_json()), MANIFEST_SHAPE) == []
    report = render(again)
    assert f"{m4.instructions:,} instructions at 80 MHz" in report
    assert report.count("instructions at 80 MHz") == 1  # the cortex-m55 row was measured without a clock


def test_estimated_cycles_give_the_milliseconds_and_are_labelled_estimated():
    from dataclasses import replace

    from mnd.pipeline.report.summary import terminal_lines

    manifest = sample_manifest()
    m4 = next(m for m in manifest.measurements if m.target == "cortex-m4")
    layers = [{**layer, "cycles_estimated": 2 * layer["instructions"]} for layer in m4.layers]
    estimated = replace(m4, cycles_estimated=983_236, flash_wait_states=1, layers=layers)
    manifest = replace(manifest, measurements=tuple(estimated if m is m4 else m for m in manifest.measurements))
    judged = with_board_fit(manifest, BOARDS["nano33-ble"])
    assert judged.target["part"]["estimate_ms"] == round(983_236 / 64e3, 3)
    assert check(json.loads(judged.to_json()), MANIFEST_SHAPE) == []
    report = render(judged)
    assert ("- on the nRF52840: estimate, not a measurement: 983,236 estimated cycles at 64 MHz would take 15.36 ms"
            in report)
    assert ("- estimated cycles per inference: 983,236 (2.00 per instruction) from the cortex-m4's published "
            "instruction timings at 1 flash wait state — an estimate, not a measurement") in report
    assert "| instructions | per MAC | est. cycles |" in report and f"| {2 * 228_960:,} |" in report
    assert any("491,618 instructions, 983,236 cycles (estimated)" in line for line in terminal_lines(judged))
