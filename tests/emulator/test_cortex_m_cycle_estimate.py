"""The cycle estimate against the Cortex-M4 TRM (ARM DDI 0439B, Table 3-1, section 3.3.2, Table 7-1): one assembly
firmware whose marked sections have cycle counts the TRM states exactly, run once at zero and once at two flash
wait states. Every section is entered by returning from mnd_marker (BX LR, 1 + P) and left by calling it
(BL, 1 + P), so each segment is the section's own cycles plus 6 (P = 2, the refill the model charges)."""
import shutil

import pytest

from mnd.targets.cortex_m.cores import get_core
from mnd.targets.cortex_m.firmware import build_firmware
from mnd.targets.cortex_m.qemu import run_firmware
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.emulator

TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm", "qemu-system-arm", "gcc")
CALL_AND_RETURN = 6  # BL 1 + P, BX LR 1 + P
WAIT_STATES = 2

# (name, assembly, TRM cycles). r0 points at `chain` (its first word holds its own address), r5 at RAM scratch.
# The first two sections use only 32-bit encodings, so from a word-aligned start each instruction is one fetch.
SECTIONS = (
    ("empty", "", 0),
    ("alu", """add.w r1, r1, #1; eor.w r2, r2, r1; lsl.w r3, r2, #2; orr.w r4, r3, r2
               ubfx r1, r4, #3, #5; sxtb.w r2, r1; mov.w r3, #7; bic.w r4, r4, r3""", 8),
    ("multiplies", """mul r1, r2, r3; mla r4, r1, r2, r3; smull r1, r2, r3, r4; smlal r1, r2, r3, r4
                      smlad r4, r1, r2, r4; smlabb r4, r1, r2, r4""", 6),
    ("divide (worst case: operands are not visible)", "movs r3, #3; sdiv r1, r2, r3", 1 + 12),
    ("dependent loads", "ldr r1, [r0]; ldr r1, [r1]; ldr r1, [r1]", 2 + 2 + 2),
    ("pipelined loads", "ldr r1, [r0]; ldr r2, [r0, #4]; ldrb r3, [r0, #8]; ldrh r4, [r0, #12]", 2 + 1 + 1 + 1),
    ("load, store, load", "ldr r1, [r0]; str r1, [r5]; ldr r2, [r0, #4]", 2 + 1 + 2),
    ("LDRD, STRD", "ldrd r1, r2, [r0]; strd r1, r2, [r5]", 3 + 3),
    ("LDM, STM of 4", "ldm r0, {r1-r4}; stm r5, {r1-r4}", 5 + 5),
    ("PUSH, POP of 4", "push {r1-r4}; pop {r1-r4}", 5 + 5),
    ("taken branch", "cmp r0, r0; beq 1f; nop; 1:", 1 + 3),
    ("untaken branch", "cmp r0, r0; bne 1f; nop; 1:", 1 + 1 + 1),
    ("taken CBZ", "movs r1, #0; cbz r1, 1f; nop; 1:", 1 + 3),
    ("SMLAD loop of 4", "movs r6, #4; 1: smlad r7, r1, r2, r7; subs r6, #1; bne 1b", 1 + 4 * 3 + 3 * 2),
    ("FPU", """vadd.f32 s0, s1, s2; vmul.f32 s0, s1, s2; vmla.f32 s0, s1, s2; vdiv.f32 s0, s1, s2
               vldr s3, [r0]; vstr s3, [r5]""", 1 + 1 + 3 + 14 + 2 + 2),
    # QEMU ends a block at its 1 KiB page; the second load still pipelines after the first across it.
    ("pipelined loads across a page boundary", """b.w 1f; .p2align 10; .space 1020
                                                  1: ldr.w r1, [r0]; ldr.w r2, [r0, #4]""", (1 + 2) + 2 + 1),
)

# Cortex-M55 (the model's approximation, docs/DESIGN.md): an MVE instruction 2 cycles, 1 when it follows one of the
# other kind (memory vs arithmetic). The vector-by-vector VQ(R)DMULH sit in the Advanced SIMD space (EF/FF with
# coprocessor field 0xB), which a VFP decode would take for a VLDM.
M55_SECTIONS = (
    ("MVE multiplies in the cp11 field", "vqrdmulh.s32 q0, q1, q2; vqdmulh.s32 q3, q1, q2; vadd.i32 q4, q1, q2",
     2 + 2 + 2),
    ("MVE load then arithmetic", "vldrw.u32 q0, [r0]; vqrdmulh.s32 q1, q0, q0", 2 + 1),
    ("FP unconditional (VSEL, VMAXNM)", "vseleq.f32 s0, s1, s2; vmaxnm.f32 s0, s1, s2", 1 + 1),
)


def model_h(sections) -> str:
    return f"""\
#include <stdint.h>
#define MND_INPUT_BYTES 4
#define MND_OUTPUT_BYTES 4
#define MND_LAYERS {len(sections)}
void mnd_model_invoke(const int8_t* input, int8_t* output);
"""


def model_assembly(sections) -> str:
    body = "\n".join(f"    @ {name}\n    {code.strip()}\n    bl mnd_marker" for name, code, _ in sections)
    return f"""\
    .syntax unified
    .thumb
    .section .text.mnd_model_invoke, "ax", %progbits
    .balign 1024                 @ one QEMU page: no block is split at a page boundary
    .global mnd_model_invoke
    .type mnd_model_invoke, %function
    .thumb_func
mnd_model_invoke:
    push.w {{r4-r11, lr}}
    ldr.w r0, =chain
    ldr.w r5, =scratch
    bl mnd_marker
{body}
    pop {{r4-r11, pc}}
    .ltorg

    .section .rodata.chain, "a", %progbits
    .balign 8
chain:
    .word chain, 2, 3, 4, 5, 6, 7, 8

    .section .bss.scratch, "aw", %nobits
    .balign 8
scratch:
    .space 32
"""


def build_sections(tmp_path_factory, core_name: str, sections):
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not found (run 'make toolchain')")
    core = get_core(core_name)
    root = tmp_path_factory.mktemp(f"cycles-{core_name}")
    (root / "model").mkdir()
    (root / "model" / "model.h").write_text(model_h(sections))
    (root / "model" / "model.S").write_text(model_assembly(sections))
    return core, root, build_firmware(core, [root / "model" / "model.S"], [root / "model"], root / "fw")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    core, root, firmware = build_sections(tmp_path_factory, "cortex-m4", SECTIONS)
    zero = run_firmware(core, firmware, root / "zero", bytes(4), 30)
    waits = run_firmware(core, firmware, root / "waits", bytes(4), 30, flash_wait_states=WAIT_STATES)
    return zero, waits


@pytest.mark.parametrize("index", range(len(SECTIONS)), ids=[name for name, _, _ in SECTIONS])
def test_each_section_costs_what_the_trm_states(runs, index):
    zero, _ = runs
    assert zero.per_sample_cycles()[0][index] == SECTIONS[index][2] + CALL_AND_RETURN


def test_cycles_never_fall_below_the_instruction_count(runs):
    zero, _ = runs
    assert zero.per_sample()[0][0] == 2  # BL and BX LR: the instruction count is untouched
    assert all(c >= i for c, i in zip(zero.per_sample_cycles()[0], zero.per_sample()[0]))
    assert zero.total_cycles >= zero.total_instructions


def test_flash_wait_states_are_charged_per_32_bit_fetch(runs):
    zero, waits = runs
    added = [w - z for w, z in zip(waits.per_sample_cycles()[0], zero.per_sample_cycles()[0])]
    assert added[0] == WAIT_STATES * 2               # BX LR's word and BL's
    assert added[1] == WAIT_STATES * (1 + 8 + 1)     # ... and the 8 wide instructions between
    assert all(a >= WAIT_STATES * 2 for a in added)
    assert waits.per_sample() == zero.per_sample()   # instructions are counted the same either way


def test_m55_vector_instructions_cost_beats_not_a_vfp_transfer(tmp_path_factory):
    core, root, firmware = build_sections(tmp_path_factory, "cortex-m55", M55_SECTIONS)
    cycles = run_firmware(core, firmware, root / "zero", bytes(4), 30).per_sample_cycles()[0]
    assert cycles == [cost + CALL_AND_RETURN for _, _, cost in M55_SECTIONS]
