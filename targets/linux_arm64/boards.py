"""The boards the arm64 Linux target knows: the CPU mnd compiles its C engine for, and the CPU QEMU emulates when
no board is connected (the default `max` CPU takes code paths no Pi has)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    gcc_cpu: str          # -mcpu for the mnd-c executable ("generic": any armv8-a core)
    qemu_cpu: str         # QEMU_CPU in emulated mode


BOARDS = {
    "rpi4": Board("rpi4", "Raspberry Pi 4 (Cortex-A72)", "cortex-a72", "cortex-a72"),
    "rpi5": Board("rpi5", "Raspberry Pi 5 (Cortex-A76, dot product)", "cortex-a76", "cortex-a76"),
    "linux-arm64": Board("linux-arm64", "any 64-bit Arm Linux board (generic armv8-a)", "generic", "cortex-a72"),
}
