"""Report section for an emulated target: instruction counts (never cycles or milliseconds), memory, layers."""
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.intervals import accuracy_interval


def _kib(value) -> str:
    return "—" if value is None else f"{value:,} B ({value / 1024:.1f} KiB)"


def _parts(parts: dict | None) -> str:
    return ", ".join(f"{text(name)} {size:,}" for name, size in (parts or {}).items())


def _arena_line(m) -> str:
    host = (f"TFLite-Micro's arena for the same model (host, 64-bit) {_kib(m.tflm_arena_bytes)}"
            if m.tflm_arena_bytes is not None else "TFLite-Micro's arena not searched (no tflm export)")
    if m.runtime == "tflm-cmsis-nn":
        return (f"- tensor arena used on the core: {_kib(m.arena_bytes)} (the interpreter's arena_used_bytes, "
                f"CMSIS-NN scratch buffers included); {host}")
    return (f"- activation arena: {_kib(m.arena_bytes)}; floor {_kib(m.arena_floor_bytes)} (the most tensor bytes "
            f"live at once); {host}")


def versus_mnd_c(m, measurements) -> list:
    """For a tflm-cmsis-nn row: mnd-c's figures on the same core beside it, as ratios (mnd-c / TFLM)."""
    ours = next((o for o in measurements if m.runtime == "tflm-cmsis-nn" and o.target == m.target
                 and o.runtime == "mnd-c" and o.instructions), None)
    if ours is None or not m.instructions:
        return []
    ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "—"  # noqa: E731
    return [f"- mnd-c on the same core and samples: {ours.instructions:,} instructions "
            f"({ratio(ours.instructions, m.instructions)} of these), flash {ratio(ours.flash_bytes, m.flash_bytes)}, "
            f"RAM {ratio(ours.ram_bytes, m.ram_bytes)}"]


def render_emulated(m, clock_mhz: float | None = None, extra: list = ()) -> list:
    """`extra`: more bullet lines after the measured ones (a board preset's verdict)."""
    macs = sum(layer["macs"] for layer in m.layers or [])
    per_mac = f" ({m.instructions / macs:.2f} per MAC over {macs:,} MACs)" if macs else ""
    lines = [f"### {code(m.target)} (QEMU, emulated): {text(m.runtime)} on {text(m.artifact)}", "",
             f"- accuracy {accuracy_interval(m.accuracy, m.n)} (95% interval) on {m.n} samples, every output bit-exact "
             "with LiteRT's reference kernels"
             + (" (and so with TFLite-Micro, which the validation above matched to them)"
                if m.tflm_arena_bytes is not None else ""),
             f"- executed instructions per inference: {m.instructions:,}{per_mac} — QEMU has no timing model, so "
             "these are instruction counts, not cycles",
             f"- flash: {_kib(m.flash_bytes)} = {_parts(m.flash_parts)}",
             f"- RAM: {_kib(m.ram_bytes)} = {_parts(m.ram_parts)}",
             _arena_line(m)]
    if clock_mhz:
        lines.append(f"- estimate, not a measurement: {m.instructions:,} instructions at {clock_mhz:g} MHz and one "
                     f"instruction per cycle would take {m.instructions / (clock_mhz * 1e3):.2f} ms")
    lines += [*extra, "", "| layer | op | MACs | instructions | per MAC |", "|---|---|---|---|---|"]
    for layer in m.layers or []:
        ratio = f"{layer['instructions'] / layer['macs']:.2f}" if layer["macs"] else "—"
        lines.append(f"| {text(layer['index'])} | {text(layer['op'])} | {layer['macs']:,} | "
                     f"{layer['instructions']:,} | {ratio} |")
    return lines + [""]
