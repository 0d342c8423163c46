"""Whether a model's flash and RAM fit a board preset, with the margin left (negative: over by that much)."""


def fit(board, flash_bytes: int, ram_bytes: int, basis: str) -> dict:
    """`basis` says where flash_bytes and ram_bytes come from (an estimate or the emulator firmware's sizes)."""
    parts = {"flash": _one(flash_bytes, board.flash_bytes), "ram": _one(ram_bytes, board.ram_bytes)}
    return {"board": board.name, "part": board.part, "core": board.core, "clock_mhz": float(board.clock_mhz),
            "fits": all(p["fits"] for p in parts.values()), **parts, "basis": basis}


def _one(needed: int, available: int) -> dict:
    return {"needed_bytes": int(needed), "available_bytes": int(available),
            "margin_bytes": int(available - needed), "fits": needed <= available}



MEASURED_BASIS = ("the emulator firmware's sizes as built and run (flash: text + rodata + data; RAM: data + bss + the "
                  "measured stack peak), mnd's test harness and its I/O buffers included")


def measured_fit(board, measurement) -> dict:
    """The verdict from a Cortex-M export's mnd-c measurement, with its estimated cycles (or, in rows from before
    the estimate, its instructions) at the board's clock as a labelled estimate in milliseconds."""
    from mnd.pipeline.report.emulated import milliseconds_line

    verdict = fit(board, measurement.flash_bytes, measurement.ram_bytes, MEASURED_BASIS)
    cycles = measurement.cycles_estimated if measurement.cycles_estimated is not None else measurement.instructions
    milliseconds = cycles / (board.clock_mhz * 1e3)
    return {**verdict, "estimate_ms": round(milliseconds, 3),
            "estimate": f"estimate, not a measurement: {milliseconds_line(measurement, board.clock_mhz)} "
                        "(QEMU has no timing model)"}
