"""--probe's pure parts: the gdb://HOST:PORT address, the gdb batch script, and the reading of what the board left
in RAM (harness/probe.c's state words, outputs and layer markers' CYCCNT values)."""
import struct

import pytest

from mnd.base.errors import UsageError
from mnd.targets.board_output import BoardOutputError
from mnd.targets.cortex_m.gdb_probe import FILES, Probe, gdb_script, parse_probe, parse_reset
from mnd.targets.cortex_m.probe_state import (COUNTER_ABSENT, COUNTING, FIELDS, MAGIC, NO_CYCCNT, STATE_BYTES,
                                              probe_run)
from tests.conftest import run_mnd

EXPECTED = {"layers": 2, "input_bytes": 4, "output_bytes": 3}


def test_probe_addresses():
    assert parse_probe("gdb://127.0.0.1:3333") == Probe("127.0.0.1", 3333)
    assert parse_probe("gdb://board-7.lab:2331").url == "gdb://board-7.lab:2331"
    for wrong in ("127.0.0.1:3333", "tcp://host:3333", "gdb://host", "gdb://host:0", "gdb://host:65536",
                  "gdb://-x:3333", "gdb://:3333", "gdb://host:33a"):
        with pytest.raises(UsageError, match="expected gdb://HOST:PORT"):
            parse_probe(wrong)


def test_gdb_script_loads_starts_and_reads_each_sample():
    symbols = {"Reset_Handler": (0x400, 0x60), "mnd_probe_done": (0x500, 2), "mnd_probe_input": (0x20100000, 4),
               "mnd_probe_output": (0x20100010, 3), "mnd_probe_cycles": (0x20100020, 12),
               "mnd_probe_state": (0x20100030, STATE_BYTES)}
    lines = gdb_script(Probe("board", 3333), symbols, 2).splitlines()
    assert lines[lines.index("target extended-remote board:3333") + 1] == "load"
    assert "set $pc = 0x400" in lines and "hbreak *0x500" in lines
    first = lines.index("restore input-0.bin binary 0x20100000")
    assert lines[first + 1:first + 5] == [
        "continue", f"append binary memory {FILES[0]} 0x20100010 0x20100013",
        f"append binary memory {FILES[1]} 0x20100020 0x2010002c",
        f"append binary memory {FILES[2]} 0x20100030 {0x20100030 + STATE_BYTES:#x}"]
    assert lines[first + 5] == "restore input-1.bin binary 0x20100000" and lines[-2:] == ["delete", "detach"]
    assert lines.index("continue") < first  # the first stop: the harness ready, before any sample is written


def state(sample: int, **changes) -> bytes:
    values = {name: 0 for name in FIELDS}
    values.update(magic=MAGIC, layers=2, input_bytes=4, output_bytes=3, counter=COUNTING, samples=sample + 1,
                  marks=3, stack_size=4096, stack_peak=512, stack_at_invoke=64)
    values.update(changes)
    return struct.pack(f"<{len(FIELDS)}I", *(values[name] for name in FIELDS))


def marks(*values) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def test_cycles_per_layer_across_a_counter_wrap():
    run = probe_run(b"abcdef", marks(100, 350, 1100, 2**32 - 10, 90, 290), state(0) + state(1), "b", 2, EXPECTED)
    assert run.outputs == b"abcdef" and run.layer_cycles == [[250, 750], [100, 200]]
    assert run.counter_absent is None and run.stack_peak_bytes == 512


def test_an_absent_counter_gives_no_cycles_never_zeros():
    run = probe_run(b"abc", marks(0, 0, 0), state(0, counter=NO_CYCCNT), "b", 1, EXPECTED)
    assert run.layer_cycles is None and run.counter_absent == COUNTER_ABSENT[NO_CYCCNT]


@pytest.mark.parametrize("changes, message", [
    ({"magic": 0}, "has no mnd marker"),
    ({"fault": 3, "fault_pc": 0x1234}, "reports a fault: HardFault pc=0x1234"),
    ({"layers": 5}, "says layers=5; the firmware was built with 2"),
    ({"samples": 7}, "counts 7 samples finished; expected 1"),
    ({"marks": 2}, "has 2 layer markers; expected 3"),
    ({"counter": 9}, "cycle counter status 9"),
    ({"stack_peak": 4096}, "stack overflow"),
])
def test_a_state_not_as_the_harness_writes_it_is_refused(changes, message):
    with pytest.raises(BoardOutputError, match=message):
        probe_run(b"abc", marks(0, 1, 2), state(0, **changes), "b", 1, EXPECTED)


def test_short_reads_are_refused():
    with pytest.raises(BoardOutputError, match="outputs read back 2 bytes"):
        probe_run(b"ab", marks(0, 1, 2), state(0), "b", 1, EXPECTED)
    with pytest.raises(BoardOutputError, match="state read back"):
        probe_run(b"abc", marks(0, 1, 2), state(0)[:-4], "b", 1, EXPECTED)
    with pytest.raises(BoardOutputError, match="layer cycle counts read back 8 bytes"):
        probe_run(b"abc", marks(0, 1), state(0), "b", 1, EXPECTED)


def test_a_malformed_probe_address_is_a_usage_error(tmp_path):
    result = run_mnd("measure", tmp_path / "no-run", "--board", "nano33-ble", "--target", "cortex-m4",
                     "--probe", "http://x")
    assert result.returncode == 2 and "expected gdb://HOST:PORT" in result.stderr


def test_a_reset_command_runs_before_load_and_must_be_a_monitor_command():
    symbols = {name: (0x400 + 16 * i, 4) for i, name in enumerate(("Reset_Handler", "mnd_probe_done", "mnd_probe_input",
                                                                     "mnd_probe_output", "mnd_probe_cycles",
                                                                     "mnd_probe_state"))}
    lines = gdb_script(Probe("board", 3333), symbols, 1, parse_reset("monitor  reset halt")).splitlines()
    connect = lines.index("target extended-remote board:3333")
    assert lines[connect + 1:connect + 3] == ["monitor reset halt", "load"]
    assert "monitor" not in gdb_script(Probe("board", 3333), symbols, 1)
    for wrong in ("reset halt", "shell rm -rf x", "monitor reset\nshell true", ""):
        with pytest.raises(UsageError, match="expected one gdb monitor command"):
            parse_reset(wrong)
    result = run_mnd("measure", "no-run", "--target", "cortex-m4", "--probe-reset", "monitor reset halt")
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(errors) == 1 and "--probe-reset is for a board behind --probe" in errors[0]
