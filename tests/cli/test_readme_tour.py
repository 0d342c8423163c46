"""The README's CLI tour runs as written (tests/tour_runs.py walks it once per test run), and the walker itself: how
it reads code blocks, joins continued lines, keeps marked lines out and maps the example files to the assets."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DIGITS_TRAINING, REPO
from tests.readme_tour import ASSETS, TourError, tour_commands
from tests.tour_runs import check

SAMPLE = """# tool

## Set up

```
make demo
```

## CLI tour

**Count** — text:

```sh
mnd summary --alpha 0.25   # a comment
# a comment line
mnd export --model vww_96_int8.tflite --eval vww_dev \\
    --target cortex-m4 --out out/vww-m4
mnd measure out/vww-m4 --target rpi4 --ssh pi@pi  # needs: a Raspberry Pi
make test
```

```console
$ mnd analyze coral/mobilenet_v2_1.0_224_quant.tflite
model: 300,800,000 MACs, 3.5 M parameters
...
$ mnd train --model nope --out runs/x
mnd: error: unknown model 'nope'; did you mean ...
```

```text
| an | excerpt |
```

## Docker image

```
docker run mnd
```
"""


def test_the_walker_reads_the_tour_blocks_joins_lines_skips_marked_ones_and_maps_assets():
    commands = tour_commands(SAMPLE, Path("/assets"))
    assert [c.line.split("#")[0].strip() for c in commands] == [
        "mnd summary --alpha 0.25",
        "mnd export --model vww_96_int8.tflite --eval vww_dev --target cortex-m4 --out out/vww-m4",
        "mnd measure out/vww-m4 --target rpi4 --ssh pi@pi", "make test",
        "mnd analyze coral/mobilenet_v2_1.0_224_quant.tflite", "mnd train --model nope --out runs/x"]
    summary, export, measure, make, analyze, train = commands
    assert summary.argv == ("mnd", "summary", "--alpha", "0.25") and summary.expected_exit == 0
    assert export.argv == ("mnd", "export", "--model", "/assets/mlperf_vww/vww_96_int8.tflite", "--eval",
                           "/assets/vww_dev", "--target", "cortex-m4", "--out", "out/vww-m4")
    assert (measure.skipped, measure.argv) == ("needs: a Raspberry Pi", ()) and make.skipped == "make"
    assert analyze.argv[2] == "/assets/coral_mobilenet_v2_quant/mobilenet_v2_1.0_224_quant.tflite"
    assert analyze.expected_numbers() == ["300,800,000"] and analyze.expected_exit == 0
    assert train.expected_exit == 2 and train.expected_error() == "mnd: error: unknown model 'nope'; did you mean"


def test_the_walk_reports_a_changed_count_another_exit_code_and_a_missing_error_line():
    analyze, train = tour_commands(SAMPLE, Path("/assets"))[-2:]
    printed = subprocess.CompletedProcess([], 0, "model: 300,800,001 MACs, 3.5 M parameters", "")
    assert check(analyze, printed) == ["stdout lacks the README's 300,800,000"]
    assert check(analyze, subprocess.CompletedProcess([], 0, "model: 300,800,000 MACs", "")) == []
    refused = subprocess.CompletedProcess([], 1, "", "mnd: error: no such file")
    assert check(train, refused) == ["exit 1, expected 2", "stderr lacks \"mnd: error: unknown model 'nope'; did you mean\""]


@pytest.mark.parametrize("tour, phrase", [
    ("```\nmnd summary\n```", "must be ```sh, ```console or ```text"),
    ("```sh\npython3 -m venv x\n```", "not an mnd command and not marked"),
    ("```sh\nmnd summary \\\n```", "a continued line ends the block"),
    ("```console\noutput first\n```", "must start with a `$ ` command"),
    ("```sh\nmnd summary\n", "not closed"),
])
def test_a_tour_that_breaks_the_conventions_is_refused(tour, phrase):
    with pytest.raises(TourError, match=re.escape(phrase)):
        tour_commands(f"## CLI tour\n\n{tour}\n", Path("/assets"))


@pytest.mark.assets
def test_every_example_file_the_readme_names_is_in_the_assets(assets):
    assert [name for name, path in ASSETS.items() if not (assets / path).exists()] == []


def test_the_readme_trains_what_digits_run_trains():
    """digits_run stands in for the tour's `mnd train` line: they must stay the same command."""
    lines = [c.argv[:-2] for c in tour_commands((REPO / "README.md").read_text(), Path("/assets"))
             if c.argv[1:2] == ("train",) and c.expected_exit == 0]
    assert ("mnd", *DIGITS_TRAINING) in lines


@pytest.mark.assets
@pytest.mark.emulator
@pytest.mark.slow
def test_every_unmarked_command_of_the_readme_tour_runs_as_written(tour):
    results = json.loads((tour.parent / "walk.json").read_text())
    failed = [r for r in results if r.get("problems")]
    assert failed == [], "\n\n".join(f"{r['line']}\n{'; '.join(r['problems'])}\nstderr: ...{r['stderr'][-1500:]}"
                                     for r in failed)
    walked = [r for r in results if not r["skipped"]]
    assert all("returncode" in r for r in walked), "the walk stopped early"
    assert len(walked) >= 30 and {r["skipped"] for r in results} >= {"", "needs: a Raspberry Pi", "needs: a phone"}
