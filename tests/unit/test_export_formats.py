"""`mnd export --formats`: the names, the log line per artifact, checks that run only on what was written, the
manifest's record and the report's word on it."""
import argparse
import json
import logging
import re
from dataclasses import replace

import numpy as np
import pytest

from mnd.pipeline import cli_args, validate
from mnd.pipeline.export.formats import ALL_FORMATS, FORMATS, Build, human_bytes, parse_formats
from mnd.pipeline.manifest import ARTIFACT_KINDS, Manifest
from mnd.pipeline.report.markdown import render
from tests.unit.test_onnx_agreement import _manifest


@pytest.mark.parametrize("text, formats", [("tflite", ("tflite",)), ("onnx,tflite", ("tflite", "onnx")),
                                           (" TFLM , onnx", ("onnx", "tflm")), ("all", ALL_FORMATS)])
def test_names_parse_in_one_order(text, formats):
    assert parse_formats(text) == formats


@pytest.mark.parametrize("text, named", [("nope", "'nope'"), ("tflite,", "''"), ("tflite,c", "'c'")])
def test_an_unknown_name_is_one_line_naming_every_valid_one(text, named):
    with pytest.raises(argparse.ArgumentTypeError) as error:
        cli_args.export_formats(text)
    message = str(error.value)
    assert "\n" not in message and named in message and all(name in message for name in ALL_FORMATS)


def test_every_artifact_kind_belongs_to_one_format():
    kinds = [kind for group in FORMATS.values() for kind in group]
    assert sorted(kinds) == sorted(ARTIFACT_KINDS)


def test_sizes_carry_their_unit():
    assert [human_bytes(n) for n in (0, 1023, 1024, 321_456, 2 * 1024 ** 2)] == \
        ["0 B", "1023 B", "1.0 KiB", "313.9 KiB", "2.0 MiB"]


def test_each_artifact_is_logged_at_its_final_path_with_time_and_size(tmp_path, caplog):
    staging = tmp_path / ".run.partial-x1y2"
    (staging / "tflm").mkdir(parents=True)
    build = Build(staging, "out/run", ("tflite", "tflm"))
    with caplog.at_level(logging.INFO, logger="mnd"), build.timed() as written:
        (staging / "m_int8.tflite").write_bytes(bytes(2048))
        (staging / "tflm" / "m_op_resolver.h").write_text("x" * 10)
        written += [("tflite_int8", staging / "m_int8.tflite"), ("tflm_op_resolver", staging / "tflm/m_op_resolver.h")]
    lines = [record.getMessage() for record in caplog.records]
    assert re.fullmatch(r"TFLite int8: export success \d+\.\d s, saved as out/run/m_int8\.tflite \(2\.0 KiB\)", lines[0])
    assert re.fullmatch(r"TFLite-Micro op resolver: export success \d+\.\d s, saved as out/run/tflm/m_op_resolver\.h "
                        r"\(10 B\)", lines[1])
    assert not any("partial" in line for line in lines)
    assert build.wants("tflm") and not build.wants("onnx")


def _with(kinds, tmp_path) -> Manifest:
    manifest = _manifest()
    for kind in kinds:
        (tmp_path / kind).write_bytes(kind.encode())
        manifest = manifest.with_artifact(tmp_path, kind, tmp_path / kind)
    return manifest


def test_checks_run_only_when_their_artifacts_were_written(tmp_path, caplog):
    ran = []

    def check(name):
        def run():
            ran.append(name)
            return validate.bit_exact(name, np.zeros((3, 2)), np.zeros((3, 2)))
        return run

    manifest = _with(("tflite_float", "tflite_int8"), tmp_path)
    checks = (validate.Check(("tflite_float",), check("float")), validate.Check(("onnx_float",), check("onnx")),
              validate.Check(("onnx_int8", "tflite_int8"), check("onnx int8")),
              validate.Check(("tflite_int8",), check("int8")))
    with caplog.at_level(logging.INFO, logger="mnd"):
        results = validate.run_checks(manifest, checks)
    assert ran == ["float", "int8"] and [v.name for v in results] == ["float", "int8"]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(logged) == 2 and all(re.fullmatch(r"validation: \w+: passed in \d+\.\d s", line) for line in logged)


def test_the_manifest_keeps_the_request_and_reads_older_runs(tmp_path):
    replace(_with(("tflite_int8",), tmp_path), formats=("tflite",)).write(tmp_path)
    assert Manifest.read(tmp_path).formats == ("tflite",)
    doc = json.loads((tmp_path / "manifest.json").read_text())
    del doc["formats"]  # a run from before --formats: every format
    (tmp_path / "manifest.json").write_text(json.dumps(doc))
    assert Manifest.read(tmp_path).formats is None


def test_the_report_says_what_was_asked_and_what_to_deploy(tmp_path):
    manifest = replace(_with(("tflite_float", "tflite_int8"), tmp_path), formats=("tflite",))
    text = render(manifest, "out/run")
    assert "Exported with `--formats tflite`" in text and "TFLite-Micro arena: not searched" in text
    assert "Deploy `out/run/tflite_int8` with LiteRT" in text and "/tflm/" not in text
    everything = render(replace(manifest, formats=ALL_FORMATS), "out/run")
    assert "--formats" not in everything and "Build `out/run/tflm/`" in everything


def test_an_emulated_row_without_tflm_does_not_claim_a_tflm_match():
    from mnd.pipeline.manifest import Measurement
    from mnd.pipeline.report.emulated import render_emulated

    row = Measurement(target="cortex-m4", runtime="mnd-c", artifact="tflite_int8", accuracy=0.9, n=20,
                      latency_ms=None, runs=20, emulated=True, instructions=1000, ram_bytes=2048, flash_bytes=4096,
                      arena_bytes=1024, arena_floor_bytes=1024, layers=[], ram_parts={}, flash_parts={})
    without = "\n".join(render_emulated(row))
    assert "TFLite-Micro, which the validation" not in without and "TFLite-Micro's arena not searched" in without
    with_tflm = "\n".join(render_emulated(replace(row, tflm_arena_bytes=3000)))
    assert "TFLite-Micro, which the validation" in with_tflm and "3,000 B" in with_tflm
