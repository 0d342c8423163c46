"""Board presets (targets/cortex_m/boards.py): the issue's figures, each with a source; --board resolved by the one
function analyze and export share; the fit verdict's margins; the flash estimate's constant count."""
import pytest

from mnd.base.errors import UsageError
from mnd.engine.footprint import CODE_BYTES, constant_bytes, flash_estimate
from mnd.targets.cortex_m.board_fit import fit
from mnd.targets.cortex_m.boards import BOARDS, get_board, resolve_board
from mnd.targets.cortex_m.cores import CORES

KIB = 1024
# name: core, MHz, flash KiB, RAM KiB (issue 24; the H7A3's "1.4 MB" is 1,424 KiB, stm32duino's data size)
EXPECTED = {"nucleo-l4r5zi": ("cortex-m4", 120, 2048, 640), "nucleo-h7a3zi": ("cortex-m7", 280, 2048, 1424),
            "nucleo-u575zi": ("cortex-m33", 160, 2048, 786), "nano33-ble": ("cortex-m4", 64, 1024, 256),
            "ek-ra8d1": ("cortex-m55", 480, 2048, 1024)}


def test_presets_carry_the_parts_figures_and_a_source():
    assert set(BOARDS) == set(EXPECTED)
    for name, (core, mhz, flash_kib, ram_kib) in EXPECTED.items():
        board = BOARDS[name]
        assert (board.core, board.clock_mhz, board.flash_bytes, board.ram_bytes) == \
            (core, mhz, flash_kib * KIB, ram_kib * KIB), name
        assert board.core in CORES and board.source
        assert set(board.unverified) <= {"clock_mhz", "flash_bytes", "ram_bytes", "flash_at", "ram_at"}
        assert board.ram_at.size <= board.ram_bytes and board.flash_at.size == board.flash_bytes, name
        assert board.memory_source and board.ram_at.base % (1 << 20) == 0, name  # the stack guard's alignment
    assert "Cortex-M85" in BOARDS["ek-ra8d1"].note and "cortex-m55" in BOARDS["ek-ra8d1"].note


def test_board_picks_the_core_and_a_disagreeing_target_is_refused():
    assert resolve_board(None, "host") == (None, "host")
    assert resolve_board("nano33-ble", None) == (BOARDS["nano33-ble"], "cortex-m4")
    assert resolve_board("nano33-ble", "cortex-m4") == (BOARDS["nano33-ble"], "cortex-m4")
    with pytest.raises(UsageError, match="counted on cortex-m4, not 'cortex-m7'; drop --target or give --target "
                                         "cortex-m4"):
        resolve_board("nano33-ble", "cortex-m7")
    with pytest.raises(UsageError, match="unknown board 'nucleo-l4r5'; did you mean 'nucleo-l4r5zi'"):
        get_board("nucleo-l4r5")


def test_fit_gives_both_margins_and_fails_when_either_is_over():
    verdict = fit(BOARDS["nano33-ble"], 1_000_000, 300_000, "how")
    assert verdict["flash"] == {"needed_bytes": 1_000_000, "available_bytes": 1_048_576, "margin_bytes": 48_576,
                                "fits": True}
    assert verdict["ram"]["margin_bytes"] == 262_144 - 300_000 and not verdict["ram"]["fits"]
    assert verdict["fits"] is False and verdict["basis"] == "how"
    assert fit(BOARDS["nano33-ble"], 1_048_576, 262_144, "how")["fits"] is True  # exactly full still fits


def test_flash_estimate_counts_the_constant_arrays_plus_the_measured_code():
    model_c = ("static const int8_t l0_weights[448] __attribute__((aligned(4))) = {1, 2};\n"
               "static const int32_t l0_bias[8] = {0};\nstatic const mnd_conv_params l0_params = {0};\n")
    assert constant_bytes(model_c) == 448 + 8 * 4
    assert flash_estimate(model_c, "cortex-m4", "dsp")[0] == 480 + CODE_BYTES[("cortex-m4", "dsp")]
    estimate, basis = flash_estimate(model_c, None, "portable")
    assert estimate == 480 + CODE_BYTES[("cortex-m4", "portable")] and "estimated, not built" in basis


def test_sweep_budgets_from_a_board_are_named_after_it():
    from mnd.pipeline.sweep.fits import target_limits
    from mnd.pipeline.sweep.run import SweepConfig
    from mnd.targets.registry import get_target

    board = BOARDS["nano33-ble"]
    limits = target_limits(get_target("cortex-m4"), board.flash_bytes / KIB, board.ram_bytes / KIB, board.name)
    assert [(limit.what, limit.bytes, limit.source) for limit in limits if not limit.hard] == \
        [("flash", 1_048_576, "nano33-ble flash"), ("RAM", 262_144, "nano33-ble RAM")]
    config = SweepConfig("cortex-m4", (0.25,), (96,), flash_kb=1024.0, ram_kb=256.0, part="nano33-ble")
    assert config.settings(1000, 3)["part"] == "nano33-ble"
    assert "part" not in SweepConfig("cortex-m4", (0.25,), (96,)).settings(1000, 3)  # earlier folders keep matching
