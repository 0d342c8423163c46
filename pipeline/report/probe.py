"""Report section for a Cortex-M board measured through a GDB server (--probe): DWT cycles and milliseconds at the
board preset's clock, or why there are none, memory and per-layer cycles."""
from mnd.pipeline.report.emulated import _kib, _parts
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.intervals import accuracy_interval


def render_probe(m) -> list:
    probe = m.probe
    lines = [f"### {code(m.target)} on a board: {text(probe['board'])} ({text(probe['part'])}) through "
             f"{code(probe['url'])}: {text(m.runtime)} on {text(m.artifact)}", "",
             f"- accuracy {accuracy_interval(m.accuracy, m.n)} (95% interval) on {m.n} samples, every output bit-exact "
             "with LiteRT's reference kernels"]
    if m.cycles is not None and m.clock_mhz is None:
        lines.append(f"- cycles per inference ({text(probe['cycle_counter'])}, measured on the board): {m.cycles:,} "
                     "(no --board: no clock, so no milliseconds)")
    elif m.cycles is not None:
        lines.append(f"- cycles per inference ({text(probe['cycle_counter'])}, measured on the board): {m.cycles:,} "
                     f"= {m.cycles / (m.clock_mhz * 1e3):.2f} ms at the preset's {m.clock_mhz:g} MHz (p50 "
                     f"{m.latency_ms['p50']:.2f} ms, p90 {m.latency_ms['p90']:.2f} ms); the board must run at that "
                     "clock for the milliseconds to hold")
    else:
        lines.append(f"- no cycles: {text(probe['note'] or 'the cycle counter is absent')}")
    lines += [f"- flash: {_kib(m.flash_bytes)} = {_parts(m.flash_parts)}",
              f"- RAM: {_kib(m.ram_bytes)} = {_parts(m.ram_parts)}", ""]
    if m.cycles is None:
        return lines
    lines += ["| layer | op | MACs | cycles | per MAC |", "|---|---|---|---|---|"]
    for layer in m.layers or []:
        ratio = f"{layer['cycles'] / layer['macs']:.2f}" if layer["macs"] else "—"
        lines.append(f"| {text(layer['index'])} | {text(layer['op'])} | {layer['macs']:,} | {layer['cycles']:,} | "
                     f"{ratio} |")
    return lines + [""]
