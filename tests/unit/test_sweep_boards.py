"""A sweep measured on several boards or phones (--ssh or --serial more than once): sweep.json's settings list
every one, each row names the board that measured its cost and what each board did, and the sweep's report gains
the per-board view (rows measured, dropouts); a sweep on one board shows none."""
from dataclasses import replace

from mnd.pipeline.manifest import Measurement
from mnd.pipeline.report.escape import text
from mnd.pipeline.sweep import grid
from mnd.pipeline.sweep.record import row_problems
from mnd.pipeline.sweep.report import render_html, render_markdown
from mnd.pipeline.sweep.rows import measured_row
from mnd.pipeline.sweep.run import SweepConfig
from mnd.targets.base import BoardAccess, MeasureSettings
from tests.unit.test_html_report import sample_manifest

BOARDS = ["pi@10.0.0.5", "pi@10.0.0.6", "pi@10.0.0.7"]
LOST = "ssh: lost the connection to pi@10.0.0.7"


def share(name: str, rows: list, dropped=None) -> dict:
    return {"ssh": name, "rows": rows, "dropped": dropped, "facts": None if dropped else {"machine": "aarch64"}}


def measured_on_boards(variant, shares: list, cost_board: str) -> dict:
    runs = tuple(Measurement("rpi4", runtime, "tflite_int8", None, 0, {"p50": 2.0}, 5, threads=1, board=board)
                 for runtime, board in (("mnd-c", cost_board), ("litert", BOARDS[1])))
    manifest = replace(sample_manifest(), measurements=runs,
                       target={"name": "rpi4", "options": {"ssh_boards": BOARDS}, "board": {"boards": shares}})
    return measured_row(variant, f"variants/{variant.name}", manifest, [], with_accuracy=False)


def sweep_doc() -> dict:
    first, second = grid.variants((0.25,), (32, 48), classes=10, channels=3)
    rows = [measured_on_boards(first, [share(BOARDS[0], ["mnd-c"]), share(BOARDS[1], ["litert-tflite_int8-t1"]),
                                       share(BOARDS[2], [], LOST)], BOARDS[0]),
            measured_on_boards(second, [share(BOARDS[0], []), share(BOARDS[1], ["litert-tflite_int8-t1", "mnd-c"]),
                                        share(BOARDS[2], [], LOST)], BOARDS[1])]
    settings = {"target": "rpi4", "mode": "cost-only", "dataset": None, "classes": 10, "channels": 3,
                "flash_kb": None, "ram_kb": None, "warmup": 1, "runs": 5, "board": BOARDS[0], "boards": BOARDS}
    return {"schema": "mnd.sweep/1", "settings": settings, "grid": {"alpha": [0.25], "resolution": [32, 48]},
            "rows": rows}


def test_rows_name_the_board_of_their_cost_and_every_boards_share():
    first, second = sweep_doc()["rows"]
    assert row_problems(first) == [] and row_problems(second) == []
    assert (first["board"], second["board"]) == (BOARDS[0], BOARDS[1])
    assert first["boards"] == [{"name": BOARDS[0], "rows": 1, "dropped": None},
                               {"name": BOARDS[1], "rows": 1, "dropped": None},
                               {"name": BOARDS[2], "rows": 0, "dropped": LOST}]
    assert row_problems({**first, "boards": [{"name": 1, "rows": 0, "dropped": None}]}) == [
        "boards[0].name: an integer where a string belongs"]


def test_sweep_settings_record_every_board_and_phone_and_one_board_stays_as_before():
    several = SweepConfig("rpi4", (0.25,), (32,), measure=MeasureSettings(board=BoardAccess(
        ssh=BOARDS[0], ssh_boards=tuple(BOARDS)))).settings(10, 3)
    phones = SweepConfig("android", (0.25,), (32,), measure=MeasureSettings(board=BoardAccess(
        serial="a", serials=("a", "b")))).settings(10, 3)
    one = SweepConfig("rpi4", (0.25,), (32,), measure=MeasureSettings(board=BoardAccess(ssh=BOARDS[0]))).settings(10, 3)
    assert (several["board"], several["boards"]) == (BOARDS[0], BOARDS)
    assert (phones["board"], phones["boards"]) == ("a", ["a", "b"])
    assert one["board"] == BOARDS[0] and "boards" not in one


def test_report_shows_rows_measured_per_board_and_dropouts_in_markdown_and_html():
    doc = sweep_doc()
    markdown = render_markdown(doc, "out/sweep")
    expected = [f"- `{BOARDS[0]}`: 1 measurement row over 2 variants; the cost of 1",
                f"- `{BOARDS[1]}`: 3 measurement rows over 2 variants; the cost of 1",
                f"- `{BOARDS[2]}`: 0 measurement rows over 2 variants; the cost of 0; dropped out of 2 (first: "
                f"`mobilenet_v1_025_32`: {text(LOST)})"]
    assert "## Boards\n\n" + "\n".join(expected) + "\n" in markdown
    page = render_html(doc, "out/sweep")
    assert "<h2>Boards</h2>" in page and f"<li><code>{BOARDS[2]}</code>: 0 measurement rows over 2 variants" in page
    single = {**doc, "settings": {**doc["settings"], "boards": None},
              "rows": [{k: v for k, v in row.items() if k not in ("board", "boards")} for row in doc["rows"]]}
    assert "## Boards" not in render_markdown(single, "out/sweep")
