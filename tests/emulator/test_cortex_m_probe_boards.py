"""The probe build linked for each board preset's memory map (no hardware here: the linked ELF is read back): every
section in the part's flash or RAM, the vector table at the flash base with the initial stack pointer in RAM and the
reset vector at Reset_Handler, .data loaded from flash; and a model too big for a board refused in one line."""
import struct

import numpy as np
import pytest

from mnd.targets.cortex_m.boards import BOARDS
from mnd.targets.cortex_m.cores import get_core
from mnd.targets.cortex_m.firmware import FirmwareTooBig, _run_tool, build_firmware, find_tool
from mnd.targets.cortex_m.gdb_probe import Probe, parse_reset, probe_symbols, run_on_probe
from mnd.targets.registry import get_target
from mnd.targets.toolchain import problem
from tests.conftest import skip_or_fail
from tests.emulator.test_cortex_m_harness import IN_BYTES, LAYERS, OUT_BYTES, reference, write_model
from tests.gdbstub import gdbstub

pytestmark = pytest.mark.emulator
FLASH_SECTIONS = (".vectors", ".text", ".ARM.extab", ".ARM.exidx", ".rodata")
RAM_SECTIONS = (".stack", ".data", ".bss")
INITIALISED = "static volatile int32_t counts[4] = {1, 2, 3, 4}; counts[in[2] & 3]++;"  # a .data to load from flash


@pytest.fixture(scope="module", autouse=True)
def toolchain():
    missing = get_target("cortex-m4").check()
    if missing:
        skip_or_fail(missing)


def sections(elf) -> dict:
    """{name: (size, vma, lma, file offset)} of the sections that take memory (ALLOC), from objdump's headers."""
    out = _run_tool([find_tool("arm-none-eabi-objdump"), "-h", str(elf)], None, "reading sections")
    found, name = {}, None
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 7 and fields[0].isdigit():
            name, numbers = fields[1], tuple(int(value, 16) for value in fields[2:6])
        elif name and "ALLOC" in line:
            found[name] = numbers
    return found


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_the_probe_build_lands_in_the_boards_flash_and_ram(name, tmp_path):
    board = BOARDS[name]
    core = get_core(board.core)
    model = write_model(tmp_path / "model", INITIALISED)
    firmware = build_firmware(core, [model / "model.c"], [model], tmp_path / "fw", probe=True, memory=board.memory)
    found = sections(firmware.elf)
    assert {".vectors", ".text", ".rodata", *RAM_SECTIONS} <= set(found) <= {*FLASH_SECTIONS, *RAM_SECTIONS}, found
    flash, ram = board.flash_at, board.ram_at
    for section, (size, vma, lma, _) in found.items():
        in_flash = section in FLASH_SECTIONS
        assert (flash if in_flash else ram).holds(vma, size) and (lma == vma or not in_flash), (section, hex(vma))
    data_size, _, data_load, _ = found[".data"]
    assert data_size >= 16 and flash.holds(data_load, data_size)

    _, vectors_at, _, offset = found[".vectors"]
    assert vectors_at == flash.base
    with open(firmware.elf, "rb") as elf:
        elf.seek(offset)
        initial_sp, reset = struct.unpack("<II", elf.read(8))
    stack_size, stack_at, _, _ = found[".stack"]
    assert initial_sp == stack_at + stack_size and ram.holds(stack_at, stack_size)
    assert reset == probe_symbols(firmware.elf, core.name)["Reset_Handler"][0] | 1


def test_a_model_too_big_for_the_board_is_one_line_naming_the_sizes(tmp_path):
    board = BOARDS["nano33-ble"]  # 1 MiB of flash, 256 KiB of RAM
    big = ("static const volatile int8_t weights[1536 * 1024] = {1}; static volatile int8_t scratch[512 * 1024];"
           "scratch[in[0] & 255] = weights[in[1] & 255];")
    model = write_model(tmp_path / "model", big)
    with pytest.raises(FirmwareTooBig) as refused:
        build_firmware(get_core(board.core), [model / "model.c"], [model], tmp_path / "fw", probe=True,
                       memory=board.memory)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("nano33-ble (nRF52840): the firmware does not fit: ")
    flash_room, ram_room = board.flash_at.size - 1024, board.ram_at.size
    assert "flash needs 1,5" in message and f"{flash_room:,} are there (at 0x00000400" in message
    assert "RAM needs " in message and f"{ram_room:,} are there (at 0x20000000)" in message
    needed = [int(part.split(" needs ")[1].split(" bytes")[0].replace(",", "")) for part in message.split("; ")]
    assert needed[0] > 1536 * 1024 and needed[1] > 512 * 1024 + 64 * 1024
    assert not (tmp_path / "fw").exists()


@pytest.mark.probe
def test_a_board_linked_build_runs_through_gdb_where_qemu_has_the_same_map(tmp_path):
    """nano33-ble's flash (0x0, 1 MiB) and RAM (0x20000000, 256 KiB) lie inside mps2-an386's, so its probe build
    runs under QEMU's gdbstub as on the board, after the --probe-reset path (QEMU's monitor resets the machine)."""
    if problem(("cortex-m-probe",)):
        skip_or_fail(problem(("cortex-m-probe",)))
    board = BOARDS["nano33-ble"]
    core = get_core(board.core)
    model = write_model(tmp_path / "model")
    firmware = build_firmware(core, [model / "model.c"], [model], tmp_path / "fw", probe=True, memory=board.memory)
    samples = np.random.default_rng(3).integers(-128, 128, size=(2, IN_BYTES), dtype=np.int8)
    with gdbstub(core.machine) as port:
        run = run_on_probe(core.name, board.name, firmware, Probe("127.0.0.1", port), tmp_path / "run",
                           samples.tobytes(), {"layers": LAYERS, "input_bytes": IN_BYTES, "output_bytes": OUT_BYTES},
                           timeout_s=30, reset=parse_reset("monitor system_reset"))
    assert run.outputs == reference(samples).tobytes() and run.stack_peak_bytes > 0
