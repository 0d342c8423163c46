"""--runs, --warmup, --calib-samples and --eval-samples are bounded like --threads, with the bounds in --help; adb
serials and ssh destinations are echoed quoted, on one line, whatever they hold."""
import pytest

from mnd.base.shell_word import shell_word
from mnd.pipeline import cli_args
from mnd.pipeline.cli import build_parser
from mnd.targets.transport.adb import ListedDevice, choose_device
from mnd.targets.transport.base import TransportError

BOUNDED = [("--runs", 1, cli_args.MAX_RUNS), ("--warmup", 0, cli_args.MAX_WARMUP),
           ("--calib-samples", 1, cli_args.MAX_CALIBRATION_SAMPLES),
           ("--eval-samples", 1, cli_args.MAX_EVALUATION_SAMPLES), ("--threads", 1, cli_args.MAX_THREADS)]


@pytest.mark.parametrize("flag, low, high", BOUNDED)
def test_each_count_is_bounded_on_both_sides_and_help_says_so(flag, low, high, capsys):
    parser = build_parser()
    accepted = parser.parse_args(["export", flag, str(high)])
    assert getattr(accepted, flag[2:].replace("-", "_")) in (high, (high,))
    for value in (low - 1, high + 1, 10**30):
        with pytest.raises(SystemExit) as refused:
            parser.parse_args(["export", flag, str(value)])
        error = capsys.readouterr().err
        assert refused.value.code == 2 and "out of range" in error and f"{low} to {high}" in error
    with pytest.raises(SystemExit):
        parser.parse_args(["export", "--help"])
    assert f"{low} to {high}" in capsys.readouterr().out


@pytest.mark.parametrize("value, shown", [
    ("emulator-5554", "emulator-5554"), ("a b", "'a b'"), ("it's", "'it'\"'\"'s'"),
    ("x\nrm -rf ~", "$'x\\nrm -rf ~'"), ("\x1b[2J", "$'\\x1b[2J'"), ("a\u2028b", "$'a\\u2028b'"),
])
def test_shell_word_is_one_line_and_one_word(value, shown):
    assert shell_word(value) == shown


@pytest.mark.parametrize("serial", ["a\nb", "a b", "", "-s", "\x1b[31m"])
def test_a_serial_that_adb_never_lists_is_refused_quoted(serial):
    with pytest.raises(Exception) as refused:
        cli_args.adb_serial(serial)
    assert shell_word(serial) in str(refused.value) and "\n" not in str(refused.value)


def test_an_absent_serial_is_echoed_quoted_in_the_error_and_the_suggested_command():
    with pytest.raises(TransportError) as absent:
        choose_device([ListedDevice("emulator-5554", "device")], "phone 1;id")
    assert str(absent.value) == ("no Android device 'phone 1;id' in `adb devices` (present: emulator-5554): connect "
                                 "it, or `adb connect 'phone 1;id'` for a phone on the network")
