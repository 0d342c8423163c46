"""The README's CLI tour walked once per test run (registered by tests/conftest.py's pytest_plugins): every command
it does not mark, in order, in one working directory, as written (example files mapped to the test assets).

What the tour produces is shared: tests that need the same run (the VWW and digits Cortex-M exports, the trained
sweep) read it from `tour_output` instead of running the same command again, and the tour takes the 30-epoch digits
training from the `digits_run` fixture, which runs exactly the tour's `mnd train` line. Users must not modify them."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from mnd.targets.registry import get_target
from tests.conftest import DIGITS_TRAINING, MND, REPO, built_once, skip_or_fail
from tests.readme_tour import tour_commands

COMMAND_TIMEOUT_S = 900


def output_flag(argv: tuple):
    """argv without its `--out X`, and X."""
    if "--out" not in argv:
        return argv, None
    i = argv.index("--out")
    return argv[:i] + argv[i + 2:], argv[i + 1]


def walk(commands: list, cwd: Path, reused: dict) -> list:
    """Run each walked command in order; a command equal (but for --out) to one in `reused` links that run's output
    instead. Stops at the first failure: later commands read what earlier ones wrote."""
    cwd.mkdir(parents=True)
    results = []
    for c in commands:
        record = {"line": c.line, "skipped": c.skipped}
        results.append(record)
        if c.skipped:
            continue
        argv, out = output_flag(c.argv)
        if out is not None and argv in reused:
            (cwd / out).parent.mkdir(parents=True, exist_ok=True)
            (cwd / out).symlink_to(reused[argv]())
            record.update(returncode=0, reused=True)
            continue
        started = time.monotonic()
        try:
            result = subprocess.run([str(MND), *c.argv[1:]], cwd=cwd, capture_output=True, text=True,
                                    timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired as error:
            record.update(problems=[f"still running after {COMMAND_TIMEOUT_S} s"], stderr=str(error.stderr)[-4000:])
            break
        record.update(seconds=round(time.monotonic() - started, 1), returncode=result.returncode,
                      stdout=result.stdout[-4000:], stderr=result.stderr[-4000:])
        problems = check(c, result)
        record["problems"] = problems
        if problems:
            break
    return results


def check(c, result) -> list:
    """What differs from the README: the exit code, the error line it shows, the exact counts it prints."""
    problems = []
    if result.returncode != c.expected_exit:
        problems.append(f"exit {result.returncode}, expected {c.expected_exit}")
    if c.expected_exit == 2 and c.expected_error() not in result.stderr:
        problems.append(f"stderr lacks {c.expected_error()!r}")
    missing = [n for n in c.expected_numbers() if n not in result.stdout]
    if missing:
        problems.append(f"stdout lacks the README's {', '.join(missing)}")
    return problems


@pytest.fixture(scope="session")
def tour(assets, digits_run, tmp_path_factory) -> Path:
    """The tour's working directory; walk.json beside it records each command's outcome."""
    problem = get_target("cortex-m4").check()
    if problem:
        skip_or_fail(problem)
    commands = tour_commands((REPO / "README.md").read_text(), assets)
    reused = {("mnd", *DIGITS_TRAINING): lambda: digits_run}

    def build(path: Path) -> None:
        results = walk(commands, path / "cwd", reused)
        (path / "walk.json").write_text(json.dumps(results, indent=1))

    return built_once(tmp_path_factory, "readme-tour", build) / "cwd"


def tour_output(tour: Path, relative: str) -> Path:
    """A run the tour wrote (e.g. "out/vww-m4"); a failure naming the tour's test when the walk did not get there."""
    path = tour / relative
    if not (path / "manifest.json").is_file() and not (path / "sweep.json").is_file():
        pytest.fail(f"the README tour did not produce {relative}: see tests/cli/test_readme_tour.py")
    return path
