"""Report section for an emulated target: instruction counts, cycles estimated from the core's instruction timings
(labelled estimated, never measured), memory, layers."""
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.intervals import accuracy_interval


def _kib(value) -> str:
    return "—" if value is None else f"{value:,} B ({value / 1024:.1f} KiB)"


def _parts(parts: dict | None) -> str:
    return ", ".join(f"{text(name)} {size:,}" for name, size in (parts or {}).items())


def _arena_line(m) -> str:
    host = (f"TFLite-Micro's arena for the same model (host, 64-bit) {_kib(m.tflm_arena_bytes)}"
            if m.tflm_arena_bytes is not None else "TFLite-Micro's arena not searched (no tflm export)")
    if m.runtime.startswith("tflm-"):
        return (f"- tensor arena used on the core: {_kib(m.arena_bytes)} (the interpreter's arena_used_bytes, "
                f"the kernels' scratch buffers included); {host}")
    return (f"- activation arena: {_kib(m.arena_bytes)}; floor {_kib(m.arena_floor_bytes)} (the most tensor bytes "
            f"live at once); {host}")


def versus_mnd_c(m, measurements) -> list:
    """For a TFLM row: mnd-c's figures on the same core beside it, as ratios (mnd-c / TFLM)."""
    ours = next((o for o in measurements if m.runtime.startswith("tflm-") and o.target == m.target
                 and o.runtime == "mnd-c" and o.instructions), None)
    if ours is None or not m.instructions:
        return []
    ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "—"  # noqa: E731
    return [f"- mnd-c on the same core and samples: {ours.instructions:,} instructions "
            f"({ratio(ours.instructions, m.instructions)} of these), flash {ratio(ours.flash_bytes, m.flash_bytes)} "
            f"(model library {ratio(ours.model_flash_bytes, m.model_flash_bytes)}), "
            f"RAM {ratio(ours.ram_bytes, m.ram_bytes)}"]


def render_emulated(m, clock_mhz: float | None = None, extra: list = (), failed: list = ()) -> list:
    """`extra`: more bullet lines after the measured ones (a board preset's verdict); `failed`: the row's own failed
    checks (summary.failed_checks), which its accuracy line names instead of claiming bit-exactness."""
    macs = sum(layer["macs"] for layer in m.layers or [])
    per_mac = f" ({m.instructions / macs:.2f} per MAC over {macs:,} MACs)" if macs else ""
    exact = ("every output bit-exact with LiteRT's reference kernels"
             + (" (and so with TFLite-Micro, which the validation above matched to them)"
                if m.tflm_arena_bytes is not None else ""))
    if failed:
        exact = "; ".join(f"**FAILED** {text(v.name)}: {text(v.detail)}" for v in failed) + \
            " (kept with --allow-drift): these outputs are not LiteRT's reference kernels'"
    lines = [f"### {code(m.target)} (QEMU, emulated): {text(m.runtime)} on {text(m.artifact)}", "",
             f"- accuracy {accuracy_interval(m.accuracy, m.n)} (95% interval) on {m.n} samples, {exact}",
             f"- executed instructions per inference: {m.instructions:,}{per_mac} — QEMU has no timing model, so "
             "these are instruction counts, not cycles",
             *_cycles_line(m),
             f"- flash: {_kib(m.flash_bytes)} = {_parts(m.flash_parts)}",
             *_model_flash_line(m),
             *_tree_line(m),
             f"- RAM: {_kib(m.ram_bytes)} = {_parts(m.ram_parts)}",
             _arena_line(m)]
    if clock_mhz:
        lines.append(f"- estimate, not a measurement: {milliseconds_line(m, clock_mhz)}")
    cycles = m.cycles_estimated is not None
    lines += [*extra, "", "| layer | op | MACs | instructions | per MAC |" + (" est. cycles |" if cycles else ""),
              "|---|---|---|---|---|" + ("---|" if cycles else "")]
    for layer in m.layers or []:
        ratio = f"{layer['instructions'] / layer['macs']:.2f}" if layer["macs"] else "—"
        estimated = layer.get("cycles_estimated")
        lines.append(f"| {text(layer['index'])} | {text(layer['op'])} | {layer['macs']:,} | "
                     f"{layer['instructions']:,} | {ratio} |"
                     + ((f" {estimated:,} |" if estimated is not None else " — |") if cycles else ""))
    return lines + [""]


def _model_flash_line(m) -> list:
    if m.model_flash_bytes is None:
        return []
    what = "the TFLM library and the model's C array" if m.runtime.startswith("tflm-") else "model.c and its kernels"
    return [f"- model library flash: {_kib(m.model_flash_bytes)} ({what}; harness, libc and libgcc left out)"]


def _tree_line(m) -> list:
    if not m.tflm_tree:
        return []
    tree = m.tflm_tree
    declared = ", ".join(f"{text(name)} {code(commit[:12])}"
                         for name, commit in sorted(tree.get("declared", {}).items()))
    return [f"- TFLite-Micro tree: {code(tree['path'])} ({text(tree['layout'])}, content key {code(tree['key'])}"
            + (f"; declares {declared}" if declared else "") + ")"]


def _cycles_line(m) -> list:
    if m.cycles_estimated is None:
        return []
    wait = m.flash_wait_states or 0
    return [f"- estimated cycles per inference: {m.cycles_estimated:,} ({m.cycles_estimated / m.instructions:.2f} "
            f"per instruction) from the {m.target}'s published instruction timings at {wait} flash wait "
            f"state{'s' if wait != 1 else ''} — an estimate, not a measurement"]


def milliseconds_line(m, clock_mhz: float) -> str:
    """The row's estimated cycles (else its instructions at one a cycle) at `clock_mhz`, in milliseconds."""
    if m.cycles_estimated is not None:
        return (f"{m.cycles_estimated:,} estimated cycles at {clock_mhz:g} MHz would take "
                f"{m.cycles_estimated / (clock_mhz * 1e3):.2f} ms")
    return (f"{m.instructions:,} instructions at {clock_mhz:g} MHz and one instruction per cycle would take "
            f"{m.instructions / (clock_mhz * 1e3):.2f} ms")
