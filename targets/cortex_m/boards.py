"""Board presets: real parts, each counted on the emulated core nearest to its own (targets/cortex_m/cores.py).

Figures are the vendors' headline numbers (KB and MB read as KiB and MiB, as the vendors' linker scripts do); RAM is
the on-chip SRAM in total, which some parts split into banks. `source` says where each figure was checked and
`unverified` names any figure no source at hand confirmed. `resolve_board` is the one check of --board, used by
`mnd analyze` and `mnd export`.

`flash_at` and `ram_at` are where the probe build (--probe) is linked on the part: the vector table at the flash
base, where the part boots, and the stack, data and buffers in the largest block of SRAM that is contiguous, from the
vendor's memory map named in `memory_source`. `ram_at` may be smaller than `ram_bytes` (the H7A3's TCMs and AHB
SRAM lie elsewhere), and every base is 1 MiB aligned, as the harness's stack guard needs.
"""
from dataclasses import dataclass

from mnd.base.errors import UsageError, did_you_mean
from mnd.targets.cortex_m.cores import VECTOR_TABLE_BYTES, MemoryMap, Region, get_core

_KIB = 1024
_MIB = 1024 * _KIB


@dataclass(frozen=True)
class Board:
    name: str           # the preset's name (--board)
    part: str           # the microcontroller
    core: str           # the emulated core that counts it (cores.CORES)
    clock_mhz: float    # the part's maximum core clock
    flash_bytes: int
    ram_bytes: int
    source: str         # where the figures were checked
    flash_at: Region    # the on-chip flash as the core sees it (the probe build's code)
    ram_at: Region      # the contiguous SRAM the probe build puts its stack and data in
    memory_source: str  # the vendor document that gives flash_at and ram_at
    unverified: tuple = ()  # figures no source at hand confirmed
    note: str = ""      # e.g. a core counted on its nearest emulated neighbour

    def to_dict(self) -> dict:
        return {"name": self.name, "part": self.part, "core": self.core, "clock_mhz": self.clock_mhz,
                "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes, "source": self.source,
                "unverified": list(self.unverified), "note": self.note}

    def describe(self) -> str:
        line = (f"{self.name}: {self.part}, {self.core} @ {self.clock_mhz:g} MHz, {self.flash_bytes // _KIB:,} KiB "
                f"flash, {self.ram_bytes // _KIB:,} KiB RAM")
        return line + (f" ({self.note})" if self.note else "")

    @property
    def memory(self) -> MemoryMap:
        """The probe build's map on this part: the vector table at the flash base, then code; RAM at ram_at."""
        flash = self.flash_at
        return MemoryMap(f"{self.name} ({self.part})", Region(flash.base, VECTOR_TABLE_BYTES),
                         Region(flash.base + VECTOR_TABLE_BYTES, flash.size - VECTOR_TABLE_BYTES), self.ram_at)


BOARDS = {b.name: b for b in (
    Board("nucleo-l4r5zi", "STM32L4R5ZI", "cortex-m4", 120, 2 * _MIB, 640 * _KIB,
          "ST DS12023 as summarised at x3beche.github.io/stm32l4r5-deck/overview (Cortex-M4F 120 MHz, 2 Mbytes "
          "flash, 640 Kbytes SRAM = 192 + 64 + 384); ST's product page itself was not retrieved",
          flash_at=Region(0x08000000, 2 * _MIB), ram_at=Region(0x20000000, 640 * _KIB),
          memory_source="ST RM0432 (STM32L4+ reference manual), memory map: flash at 0x08000000; SRAM1 (192 KiB) at "
                        "0x20000000, SRAM2 (64 KiB) also mapped at 0x20030000, SRAM3 (384 KiB) at 0x20040000: one "
                        "contiguous 640 KiB"),
    Board("nucleo-h7a3zi", "STM32H7A3ZIT6Q", "cortex-m7", 280, 2 * _MIB, 1424 * _KIB,
          "stm32duino boards.txt (STM32H7A3 upload.maximum_data_size 1458176 B) and docs.simplefoc.com's "
          "STM32H7A3ZITxQ entry (2.0 MB flash, 1.4 MB RAM); openocd's stm32h7x driver (H7Ax: 2 MB flash)",
          flash_at=Region(0x08000000, 2 * _MIB), ram_at=Region(0x24000000, 1 * _MIB),
          memory_source="ST RM0455 (STM32H7A3/7B3 reference manual), memory map: flash (2 banks of 1 MiB) at "
                        "0x08000000; AXI SRAM1-3 (256 + 384 + 384 KiB) contiguous at 0x24000000, the largest block "
                        "(DTCM 128 KiB at 0x20000000, ITCM at 0x0 and the AHB SRAMs at 0x30000000 are not used)",
          unverified=("clock_mhz",)),
    Board("nucleo-u575zi", "STM32U575ZIT6Q", "cortex-m33", 160, 2 * _MIB, 786 * _KIB,
          "ST's STM32U575xx description as quoted in RT-Thread's bsp/stm32/stm32u575-st-nucleo README and Zephyr's "
          "Nucleo U575ZI Q page (up to 160 MHz, up to 2 Mbytes flash, 786 Kbytes SRAM); RIOT's nucleo-u575zi-q page "
          "(STM32U575ZIT6Q: 786 KiB RAM, 2 MiB flash, 160 MHz)",
          flash_at=Region(0x08000000, 2 * _MIB), ram_at=Region(0x20000000, 768 * _KIB),
          memory_source="ST RM0456 (STM32U5 reference manual), memory map with TrustZone disabled (TZEN=0, as "
                        "shipped): flash at 0x08000000; SRAM1 (192 KiB) at 0x20000000, SRAM2 (64 KiB) at 0x20030000, "
                        "SRAM3 (512 KiB) at 0x20040000: one contiguous 768 KiB (SRAM4, 16 KiB at 0x28000000, unused)"),
    Board("nano33-ble", "nRF52840", "cortex-m4", 64, 1 * _MIB, 256 * _KIB,
          "Arduino's Nano 33 BLE (Sense) specification table (nRF52840, 64 MHz, 1 MB flash, 256 KB SRAM), as "
          "quoted in github.com/TannerGilbert/Arduino-Nano-33-BLE-Sense-Code-Collection; Zephyr/TinyGo board docs",
          flash_at=Region(0x00000000, 1 * _MIB), ram_at=Region(0x20000000, 256 * _KIB),
          memory_source="Nordic nRF52840 Product Specification, memory chapter: code flash at 0x00000000, data RAM "
                        "at 0x20000000 (Arduino's bootloader lives in the first 64 KiB of flash: loading the probe "
                        "build over SWD replaces it)"),
    Board("ek-ra8d1", "RA8D1 R7FA8D1BHECBD", "cortex-m55", 480, 2 * _MIB, 1 * _MIB,
          "Zephyr's AIK-RA8D1 page (480 MHz Cortex-M85 with Helium, 1 MB SRAM, 2 MB code flash), Qt for MCUs' "
          "EK-RA8D1 page (R7FA8D1BHECBD, 2 MB flash, 1 MB SRAM)",
          flash_at=Region(0x02000000, 2 * _MIB), ram_at=Region(0x22000000, 896 * _KIB),
          memory_source="Renesas RA8D1 User's Manual: Hardware, address space: code flash at 0x02000000; user SRAM "
                        "(896 KiB; the other 128 KiB of the 1 MiB are the TCMs) at 0x22000000",
          unverified=("flash_at", "ram_at"),
          note="a Cortex-M85, counted on the emulated cortex-m55: the nearest core, Armv8.1-M with Helium"),
)}


def board_names() -> list:
    return sorted(BOARDS)


def get_board(name: str) -> Board:
    if name not in BOARDS:
        raise UsageError(f"unknown board '{name}'{did_you_mean(name, BOARDS)} (known: {', '.join(board_names())}; "
                         "'mnd targets' lists them with their parts)")
    return BOARDS[name]


def boards_on(core: str) -> list:
    """The presets counted on `core`."""
    return [board for board in BOARDS.values() if board.core == core]


def resolve_board(board: str | None, target: str | None) -> "tuple[Board | None, str | None]":
    """(the preset, the target it implies): --board picks the core, and a --target given beside it must be that
    core; without --board, (None, target)."""
    if board is None:
        return None, target
    preset = get_board(board)
    get_core(preset.core)
    if target is not None and target != preset.core:
        raise UsageError(f"--board {board} is a {preset.part}, counted on {preset.core}, not '{target}'; drop "
                         f"--target or give --target {preset.core}")
    return preset, preset.core
