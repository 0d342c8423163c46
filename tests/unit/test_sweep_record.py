"""The sweep's record: one appended line per finished variant, every row checked when read back (rows.jsonl and
sweep.json alike), a cut-short last line dropped, anything else refused with one line naming the row."""
import json

import pytest

from mnd.base.errors import OutputError, UsageError
from mnd.pipeline.sweep import grid
from mnd.pipeline.sweep.folder import open_folder, read_sweep
from mnd.pipeline.sweep.record import ROWS_FILE, append_row, read_rows
from mnd.pipeline.sweep.rows import not_run_row

VARIANTS = grid.variants((0.25,), (32, 48, 64), classes=10, channels=3)


def rows():
    return [not_run_row(variant, "over the --flash-kb budget") for variant in VARIANTS]


def test_each_row_is_one_appended_line_and_a_later_row_wins(tmp_path):
    first, second, third = rows()
    append_row(tmp_path, first)
    append_row(tmp_path, second)
    before = (tmp_path / ROWS_FILE).read_bytes()
    append_row(tmp_path, {**first, "fit_detail": "retried"})
    after = (tmp_path / ROWS_FILE).read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 3  # nothing written before is rewritten
    assert read_rows(tmp_path) == [{**first, "fit_detail": "retried"}, second]


def test_a_last_line_cut_short_is_dropped_so_its_variant_runs_again(tmp_path):
    first, second, _ = rows()
    append_row(tmp_path, first)
    with open(tmp_path / ROWS_FILE, "a") as file:
        file.write(json.dumps(second)[:40])
    assert read_rows(tmp_path) == [first]
    append_row(tmp_path, second)
    assert read_rows(tmp_path) == [first, second]


@pytest.mark.parametrize("change, phrase", [
    (lambda row: {**row, "alpha": "0.25"}, "alpha: a string where a number belongs"),
    (lambda row: {k: v for k, v in row.items() if k != "params"}, "missing key 'params'"),
    (lambda row: {**row, "status": "done"}, "status 'done' is not one of"),
    (lambda row: {**row, "run_dir": "../../etc"}, "run_dir '../../etc' is not variants/mobilenet_v1_025_48"),
    (lambda row: {**row, "failed_validations": [1]}, "failed_validations[0]: an integer where a string belongs"),
    (lambda row: [row], "a list where an object belongs"),
])
def test_a_tampered_row_is_refused_naming_its_line_and_variant(tmp_path, change, phrase):
    first, second, _ = rows()
    (tmp_path / ROWS_FILE).write_text(json.dumps(first) + "\n" + json.dumps(change(second)) + "\n")
    with pytest.raises(OutputError) as refused:
        read_rows(tmp_path)
    message = str(refused.value)
    assert f"'{tmp_path / ROWS_FILE}' line 2" in message and phrase in message and "\n" not in message
    if isinstance(change(second), dict):
        assert "(variant 'mobilenet_v1_025_48')" in message


def test_a_tampered_sweep_json_row_is_refused_naming_the_row(tmp_path):
    first, second, _ = rows()
    doc = {"schema": "mnd.sweep/1", "settings": {}, "grid": {}, "rows": [first, {**second, "resolution": 48.5}]}
    (tmp_path / "sweep.json").write_text(json.dumps(doc))
    with pytest.raises(OutputError, match=r"sweep.json' row 2 \(variant 'mobilenet_v1_025_48'\).*resolution"):
        read_sweep(tmp_path)


def test_grids_over_the_limit_are_refused_naming_max_variants():
    grid.check_size((0.25,) * 8, (32,) * 8, None)
    with pytest.raises(UsageError, match="65 variants .* more than the limit of 64.*--max-variants 65"):
        grid.check_size((0.25,) * 5, (32,) * 13, None)
    grid.check_size((0.25,) * 5, (32,) * 13, 65)


def test_force_discards_a_sweep_with_a_tampered_row(tmp_path):
    first, second, _ = rows()
    doc = {"schema": "mnd.sweep/1", "settings": {}, "grid": {}, "rows": [first, {**second, "status": 7}]}
    (tmp_path / "sweep.json").write_text(json.dumps(doc))
    with pytest.raises(OutputError, match="pass --force"):
        open_folder(tmp_path, {}, force=False)
    assert open_folder(tmp_path, {}, force=True) == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["{not json", json.dumps({"schema": "something/else", "rows": []})])
def test_a_sweep_json_mnd_did_not_write_is_kept_and_force_is_not_suggested_where_it_cannot_help(tmp_path, content):
    (tmp_path / "sweep.json").write_text(content)
    with pytest.raises(OutputError, match="pass --force to start the sweep over"):
        open_folder(tmp_path, {}, force=False)
    with pytest.raises(OutputError) as caught:
        open_folder(tmp_path, {}, force=True)
    assert "pass --force" not in str(caught.value) and "delete the folder yourself or choose another --out" in \
        str(caught.value)
    assert (tmp_path / "sweep.json").read_text() == content
