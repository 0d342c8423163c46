"""Memory limits of a sweep: the target's own (a Cortex-M core's code and RAM regions) and the user's budgets
(--flash-kb, --ram-kb); whether a variant can fit before it is built, and whether it did once measured."""
from dataclasses import dataclass

KIB = 1024


@dataclass(frozen=True)
class Limit:
    what: str        # "flash" or "RAM"
    bytes: int
    source: str      # "cortex-m4 code region", "--flash-kb budget"
    hard: bool       # the target's real memory: a variant over it cannot run there at all


def target_limits(target, flash_kb: float | None, ram_kb: float | None, part: str | None = None) -> list:
    """The limits a variant must stay within on `target` (a registered Target); `part`: the board preset the
    budgets come from (`mnd sweep --board`), named as their source."""
    limits = []
    core = getattr(target, "core", "")
    if core:
        from mnd.targets.cortex_m.cores import CORES

        regions = CORES[core]
        limits += [Limit("flash", regions.code.size, f"{core} code region", True),
                   Limit("RAM", regions.ram.size, f"{core} RAM region", True)]
    if flash_kb is not None:
        limits.append(Limit("flash", int(flash_kb * KIB), f"{part} flash" if part else "--flash-kb budget", False))
    if ram_kb is not None:
        limits.append(Limit("RAM", int(ram_kb * KIB), f"{part} RAM" if part else "--ram-kb budget", False))
    return limits


def cannot_fit(variant, limits: list) -> str | None:
    """Why `variant` cannot fit before it is built (its int8 weights alone, or its largest layer's activations,
    exceed a limit), else None."""
    floor = {"flash": (variant.weight_bytes(), "int8 weights alone"),
             "RAM": (variant.activation_bytes(), "the largest layer's int8 input and output alone")}
    for limit in limits:
        need, what = floor[limit.what]
        if need > limit.bytes:
            return f"{what} need {_size(need)}, over the {limit.source} of {_size(limit.bytes)}"
    return None


def measured_fit(row: dict, limits: list) -> tuple:
    """(fits, detail) from a measured row: the target's flash and RAM where it measured them, else the int8 model's
    bytes for flash (what a device stores) and no RAM verdict."""
    used = {"flash": (row["flash_bytes"], "flash") if row["flash_bytes"] is not None else
            (row["int8_bytes"], "int8 model"), "RAM": (row["ram_bytes"], "RAM")}
    over, within = [], []
    for limit in limits:
        value, name = used[limit.what]
        if value is None:
            continue
        text = f"{name} {_size(value)} of the {limit.source} {_size(limit.bytes)}"
        (over if value > limit.bytes else within).append(text)
    if over:
        return False, "over: " + "; ".join(over)
    if not within:
        return None, "no memory limit known for this target; give --flash-kb or --ram-kb"
    return True, "within: " + "; ".join(within)


def _size(value: int) -> str:
    if value >= KIB * KIB:
        return f"{value / (KIB * KIB):.2f} MiB"
    return f"{value / KIB:.1f} KiB"
