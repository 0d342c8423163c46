"""Whether a model's flash and RAM fit a board preset, with the margin left (negative: over by that much)."""


def fit(board, flash_bytes: int, ram_bytes: int, basis: str) -> dict:
    """`basis` says where flash_bytes and ram_bytes come from (an estimate or the emulator firmware's sizes)."""
    parts = {"flash": _one(flash_bytes, board.flash_bytes), "ram": _one(ram_bytes, board.ram_bytes)}
    return {"board": board.name, "part": board.part, "core": board.core, "clock_mhz": board.clock_mhz,
            "fits": all(p["fits"] for p in parts.values()), **parts, "basis": basis}


def _one(needed: int, available: int) -> dict:
    return {"needed_bytes": int(needed), "available_bytes": int(available),
            "margin_bytes": int(available - needed), "fits": needed <= available}

