"""The board's facts for manifest.target.board, read by a POSIX sh script (no Python needed on the board)."""

MAX_VALUE = 200

FACTS_SCRIPT = r"""
printf 'machine=%s\n' "$(uname -m)"
printf 'kernel=%s\n' "$(uname -r)"
printf 'model=%s\n' "$(tr -d '\000' < /proc/device-tree/model 2>/dev/null)"
printf 'governor=%s\n' "$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null)"
printf 'temp_milli_c=%s\n' "$(cat /sys/class/thermal/thermal_zone0/temp 2>/dev/null)"
printf 'qemu_cpu=%s\n' "${QEMU_CPU:-}"
"""


def parse_facts(text: str) -> dict:
    """key=value lines -> {machine, kernel, model, governor, temp_c, qemu_cpu}; empty values become None."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()[:MAX_VALUE] or None  # a board's word: kept short for the report
    return {"machine": values.get("machine"), "kernel": values.get("kernel"), "model": values.get("model"),
            "governor": values.get("governor"), "temp_c": _celsius(values.get("temp_milli_c")),
            "qemu_cpu": values.get("qemu_cpu")}


def _celsius(milli: str | None) -> float | None:
    try:
        return round(int(milli) / 1000.0, 1)
    except (TypeError, ValueError):
        return None


def board_record(before: dict, after: dict, probe: dict | None) -> dict:
    """manifest.target.board. `machine` is what the runner's Python reports when it ran (uname -m otherwise). Under
    emulation the temperatures would be this machine's: not reported."""
    emulated = before["qemu_cpu"] is not None
    return {"machine": (probe or {}).get("machine") or before["machine"], "model": before["model"],
            "kernel": before["kernel"], "governor": before["governor"],
            "temp_c_before": None if emulated else before["temp_c"],
            "temp_c_after": None if emulated else after["temp_c"],
            "python": (probe or {}).get("python"), "packages": (probe or {}).get("packages") or {},
            "litert_module": (probe or {}).get("litert_module"), "qemu_cpu": before["qemu_cpu"]}
