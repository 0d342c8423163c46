"""`mnd --help`, `-h` and every subcommand's help print usage and exit 0."""
import pytest

from mnd.pipeline.cli import build_parser

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help(mnd, flag):
    result = mnd(flag, check=0)
    assert result.stdout.startswith("usage: mnd") and not result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_help(mnd, command):
    result = mnd(command, "--help", check=0)
    assert result.stdout.startswith(f"usage: mnd {command}") and "Traceback" not in result.stderr


def test_every_subcommand_is_covered():
    assert {"summary", "train", "export", "evaluate", "measure", "targets", "doctor"} <= set(COMMANDS)
