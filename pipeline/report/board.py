"""Report section for a board target (Raspberry Pi, any arm64 Linux board, emulated or real): the board's facts,
accuracy and latency per runtime and thread count, and agreement with the host's reference kernels."""
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.intervals import accuracy_interval
from mnd.pipeline.report.tables import measurement_table

EMULATED_WARNING = ("emulated on this machine (qemu-user: the board's arm64 code on this machine's CPU): the outputs "
                    "are that code's, but the latency says nothing about the board — measure on a real one with --ssh")


def board_line(board: dict) -> str:
    if board.get("qemu_cpu"):
        return (f"- board: emulated {text(board.get('machine'))} (qemu-user, QEMU_CPU={text(board['qemu_cpu'])}) on "
                f"this machine's kernel {text(board.get('kernel'))}; no governor or temperature (they would be this "
                "machine's)")
    before, after = board.get("temp_c_before"), board.get("temp_c_after")
    temps = "not readable" if before is None else f"{text(before)} °C before, {text(after)} °C after"
    return (f"- board: {text(board.get('model') or 'model not reported')} ({text(board.get('machine'))}); kernel "
            f"{text(board.get('kernel'))}; governor {text(board.get('governor') or 'not readable')}; "
            f"temperature {temps}")


def packages_line(board: dict) -> str:
    packages = ", ".join(f"{text(name)} {text(version)}" for name, version in (board.get("packages") or {}).items()
                         if version)
    litert = f"; LiteRT from {code(board['litert_module'])}" if board.get("litert_module") else ""
    return f"- Python {text(board.get('python') or '— (none used)')}; {packages or 'no Python packages used'}{litert}"


def share_line(share: dict) -> str:
    """One board or phone of several (--ssh or --serial given more than once): the rows it measured, or why it
    dropped out."""
    rows = len(share.get("rows") or ())
    dropped = f"; dropped out: {text(share['dropped'])}" if share.get("dropped") else ""
    noun, name = ("phone", share["serial"]) if "serial" in share else ("board", share.get("ssh"))
    return f"- {noun} {code(name)}: {rows} row{'' if rows == 1 else 's'}{dropped}"


def render_board(target: str, measurements, sizes: dict, board: dict | None) -> list:
    board = board or {}
    emulated = any(m.emulated for m in measurements)
    lines = [f"### {code(target)}" + (" (emulated)" if emulated else ""), ""]
    if board:
        lines += [board_line(board), packages_line(board), *map(share_line, board.get("boards") or ())]
    if emulated:
        lines.append(f"- warning: {EMULATED_WARNING}")
    where = f"emulated (QEMU {board.get('qemu_cpu')})" if emulated else "board"
    lines += ["", *measurement_table(measurements, sizes, where), ""]
    agreeing = [m for m in measurements if m.agreement]
    if agreeing:
        lines += ["Agreement with the host's LiteRT reference kernels on the same inputs:", "",
                  "| artifact | runtime | threads | top-1 differing | n | host reference accuracy [95% interval] |",
                  "|---|---|---|---|---|---|"]
        for m in agreeing:
            a = m.agreement
            lines.append(f"| {text(m.artifact)} | {text(m.runtime)} | {m.threads or '—'} | "
                         f"{text(a['top1_differing'])} | {text(a['n'])} | "
                         f"{accuracy_interval(a['reference_accuracy'], a['n'])} |")
        lines.append("")
    return lines
