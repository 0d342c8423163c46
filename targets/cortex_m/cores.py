"""Cortex-M cores we emulate: QEMU machine, compiler flags and memory map, one record per core.

The memory maps were checked on QEMU 7.2 (Debian) by storing and loading at the top of each region:
- mps2-an386 / mps2-an500: SSRAM1 at 0x0 (4 MiB, code), SSRAM2/3 at 0x20000000 (4 MiB, data).
- mps2-an505 boots in the Secure state with its vector table at 0x10000000 (the Secure alias of SSRAM1);
  data goes in the Secure alias of SSRAM2/3 at 0x38000000.
- mps3-an547 boots from the ITCM at 0x0 (512 KiB), too small for a whole model, so only the vector table
  lives there; code and constants go in DDR (Secure alias 0x70000000), data in SRAM 2 at 0x21000000.
The stack sits at the bottom of RAM, so an overflow runs off the region and faults instead of silently
overwriting data.
"""
from dataclasses import dataclass

from mnd.base.errors import UsageError, did_you_mean


@dataclass(frozen=True)
class Region:
    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size

    def holds(self, start: int, size: int) -> bool:
        return self.base <= start and start + size <= self.end


@dataclass(frozen=True)
class MemoryMap:
    """Where a firmware is linked: the reset vector table, code and constants (and .data's load image), RAM."""
    name: str            # says whose map it is, in a refusal
    boot: Region
    code: Region
    ram: Region


@dataclass(frozen=True)
class Core:
    name: str            # cortex-m4 ...
    machine: str         # QEMU -machine
    cflags: tuple        # -mcpu/-mfpu/-mfloat-abi/-mthumb
    boot: Region         # where the reset vector table must be (the core's VTOR at reset)
    code: Region         # .text and .rodata (and the load image of .data)
    ram: Region          # stack, .data, .bss
    fpu: str             # what the flags select, for reports
    kernels: str = "dsp"  # the engine's kernel set for this core (engine.ops.KERNEL_SETS)

    @property
    def hard_float(self) -> bool:
        return "-mfloat-abi=hard" in self.cflags

    @property
    def memory(self) -> MemoryMap:
        """QEMU's map for this core (the emulated run's, and --probe's without --board)."""
        return MemoryMap(f"{self.name} (QEMU {self.machine})", self.boot, self.code, self.ram)


_KIB = 1024
_MIB = 1024 * _KIB
VECTOR_TABLE_BYTES = 1 * _KIB  # room for the 16 system vectors and then some
_VECTORS = VECTOR_TABLE_BYTES

CORES = {c.name: c for c in (
    Core("cortex-m4", "mps2-an386",
         ("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-mthumb"),
         boot=Region(0x00000000, _VECTORS), code=Region(0x00000000 + _VECTORS, 4 * _MIB - _VECTORS),
         ram=Region(0x20000000, 4 * _MIB), fpu="FPv4-SP"),
    Core("cortex-m7", "mps2-an500",
         ("-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard", "-mthumb"),
         boot=Region(0x00000000, _VECTORS), code=Region(0x00000000 + _VECTORS, 4 * _MIB - _VECTORS),
         ram=Region(0x20000000, 4 * _MIB), fpu="FPv5-DP"),
    Core("cortex-m33", "mps2-an505",
         ("-mcpu=cortex-m33", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", "-mthumb"),
         boot=Region(0x10000000, _VECTORS), code=Region(0x10000000 + _VECTORS, 4 * _MIB - _VECTORS),
         ram=Region(0x38000000, 4 * _MIB), fpu="FPv5-SP"),
    # -mfpu=auto (the default) with -mcpu=cortex-m55 selects FP (double precision) + MVE; Debian's newlib has no
    # usable v8.1-M multilib and gcc maps these flags to thumb/v8-m.main+dp/hard, whose libgcc/libc run on the M55.
    Core("cortex-m55", "mps3-an547",
         ("-mcpu=cortex-m55", "-mfloat-abi=hard", "-mthumb"),
         boot=Region(0x00000000, _VECTORS), code=Region(0x70000000, 16 * _MIB),
         ram=Region(0x21000000, 4 * _MIB), fpu="FPv5-DP + MVE", kernels="mve"),
)}


def core_names() -> list:
    return sorted(CORES)


def get_core(name: str) -> Core:
    if name not in CORES:
        raise UsageError(f"unknown Cortex-M core '{name}'{did_you_mean(name, CORES)} "
                         f"(known: {', '.join(core_names())})")
    return CORES[name]
