"""Board presets: real parts, each counted on the emulated core nearest to its own (targets/cortex_m/cores.py).

Figures are the vendors' headline numbers (KB and MB read as KiB and MiB, as the vendors' linker scripts do); RAM is
the on-chip SRAM in total, which some parts split into banks. `source` says where each figure was checked and
`unverified` names any figure no source at hand confirmed. `resolve_board` is the one check of --board, used by
`mnd analyze` and `mnd export`.
"""
from dataclasses import dataclass

from mnd.pipeline.errors import UsageError, did_you_mean
from mnd.targets.cortex_m.cores import get_core

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


BOARDS = {b.name: b for b in (
    Board("nucleo-l4r5zi", "STM32L4R5ZI", "cortex-m4", 120, 2 * _MIB, 640 * _KIB,
          "ST DS12023 as summarised at x3beche.github.io/stm32l4r5-deck/overview (Cortex-M4F 120 MHz, 2 Mbytes "
          "flash, 640 Kbytes SRAM = 192 + 64 + 384); ST's product page itself was not retrieved"),
    Board("nucleo-h7a3zi", "STM32H7A3ZIT6Q", "cortex-m7", 280, 2 * _MIB, 1424 * _KIB,
          "stm32duino boards.txt (STM32H7A3 upload.maximum_data_size 1458176 B) and docs.simplefoc.com's "
          "STM32H7A3ZITxQ entry (2.0 MB flash, 1.4 MB RAM); openocd's stm32h7x driver (H7Ax: 2 MB flash)",
          unverified=("clock_mhz",)),
    Board("nucleo-u575zi", "STM32U575ZIT6Q", "cortex-m33", 160, 2 * _MIB, 786 * _KIB,
          "ST's STM32U575xx description as quoted in RT-Thread's bsp/stm32/stm32u575-st-nucleo README and Zephyr's "
          "Nucleo U575ZI Q page (up to 160 MHz, up to 2 Mbytes flash, 786 Kbytes SRAM); RIOT's nucleo-u575zi-q page "
          "(STM32U575ZIT6Q: 786 KiB RAM, 2 MiB flash, 160 MHz)"),
    Board("nano33-ble", "nRF52840", "cortex-m4", 64, 1 * _MIB, 256 * _KIB,
          "Arduino's Nano 33 BLE (Sense) specification table (nRF52840, 64 MHz, 1 MB flash, 256 KB SRAM), as "
          "quoted in github.com/TannerGilbert/Arduino-Nano-33-BLE-Sense-Code-Collection; Zephyr/TinyGo board docs"),
    Board("ek-ra8d1", "RA8D1 R7FA8D1BHECBD", "cortex-m55", 480, 2 * _MIB, 1 * _MIB,
          "Zephyr's AIK-RA8D1 page (480 MHz Cortex-M85 with Helium, 1 MB SRAM, 2 MB code flash), Qt for MCUs' "
          "EK-RA8D1 page (R7FA8D1BHECBD, 2 MB flash, 1 MB SRAM)",
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
