"""Through the real entry point: a count past its bound, an adb serial or ssh destination holding a newline, a
Cortex-M flag on another target, each refused before any work with one quoted line and exit 2."""


def test_out_of_bound_counts_and_multi_line_board_names_give_one_quoted_line(mnd, tmp_path):
    out = tmp_path / "out"
    for flags, expected in (
            (("--runs", "100001"), "give 1 to 100000 timed runs"),
            (("--eval-samples", "99999999999"), "give 1 to 10000000 evaluation samples"),
            (("--flash-wait-states", "16"), "give 0 to 15 wait states"),
            (("--target", "host", "--flash-wait-states", "1"), "--flash-wait-states applies to the cortex-m targets"),
            (("--target", "android", "--serial", "phone\nrm -rf ~"), "$'phone\\nrm -rf ~' is not an adb serial"),
            (("--target", "rpi4", "--ssh", "pi@host\nid"), "ssh destination $'pi@host\\nid': expected")):
        result = mnd("export", *flags, "--out", out)
        lines = result.stderr.splitlines()
        assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr
        assert "Traceback" not in result.stderr and not out.exists()
