/* The harness for a board behind a debug probe (the build with MND_PROBE, in place of main.c, semihost.c, fault.c
 * and marker.c): no semihosting, every sample goes through RAM. The debugger (targets/cortex_m/gdb_probe.py) stops
 * the core at mnd_probe_done, writes a sample into mnd_probe_input and resumes it; when the core is back there it
 * reads mnd_probe_output, mnd_probe_cycles (CYCCNT at each layer marker) and mnd_probe_state. A fault is recorded
 * in the state and ends at mnd_probe_done too, so the debugger never waits on a core that cannot get there. */
#include <stdint.h>

#include "dwt.h"
#include "mnd_harness.h"
#include "model.h"
#include "stack.h"

#define MND_PROBE_MAGIC 0x50444E4Du  /* "MNDP" in memory */

/* Read back as little-endian 32-bit words in this order (targets/cortex_m/probe_state.py). */
struct mnd_probe_state {
    uint32_t magic, layers, input_bytes, output_bytes;
    uint32_t counter;          /* dwt.h: MND_DWT_COUNTING, MND_DWT_NO_CYCCNT or MND_DWT_NOT_ADVANCING */
    uint32_t samples;          /* samples finished */
    uint32_t marks;            /* mnd_marker calls in the last sample */
    uint32_t stack_size, stack_peak, stack_at_invoke;
    uint32_t fault, fault_pc, fault_lr, cfsr, hfsr, bfar;  /* fault: the exception number, 0 for none */
};

volatile struct mnd_probe_state mnd_probe_state __attribute__((used));
int8_t mnd_probe_input[MND_INPUT_BYTES] __attribute__((aligned(16), used));
int8_t mnd_probe_output[MND_OUTPUT_BYTES] __attribute__((aligned(16), used));
volatile uint32_t mnd_probe_cycles[MND_LAYERS + 1] __attribute__((used));

/* The debugger's breakpoint: the core is ready for a sample, or has finished one (or faulted). */
__attribute__((noipa, used)) void mnd_probe_done(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noipa, used, section(".text.mnd_marker"))) void mnd_marker(void)
{
    uint32_t now = mnd_dwt_cycles();
    uint32_t mark = mnd_probe_state.marks;
    if (mark < MND_LAYERS + 1) mnd_probe_cycles[mark] = now;
    mnd_probe_state.marks = mark + 1;
}

extern uint32_t __stack_start[], __stack_end[];

void mnd_fault_report(const uint32_t* frame, uint32_t ipsr) __attribute__((noreturn, used));

void mnd_fault_report(const uint32_t* frame, uint32_t ipsr)
{
    volatile const uint32_t* scb = (volatile const uint32_t*)0xE000ED00u;
    int framed = frame >= __stack_start && frame + 8 <= __stack_end;
    mnd_probe_state.fault = ipsr & 0x1FFu;
    mnd_probe_state.fault_pc = framed ? frame[6] : 0;
    mnd_probe_state.fault_lr = framed ? frame[5] : 0;
    mnd_probe_state.cfsr = scb[0x28 / 4];
    mnd_probe_state.hfsr = scb[0x2C / 4];
    mnd_probe_state.bfar = scb[0x38 / 4];
    for (;;) mnd_probe_done();
}

int main(void)
{
    mnd_probe_state.layers = MND_LAYERS;
    mnd_probe_state.input_bytes = MND_INPUT_BYTES;
    mnd_probe_state.output_bytes = MND_OUTPUT_BYTES;
    mnd_probe_state.stack_size = mnd_stack_size();
    mnd_probe_state.counter = mnd_dwt_start();
    mnd_probe_state.magic = MND_PROBE_MAGIC;
    for (;;) {
        mnd_probe_done();
        mnd_probe_state.marks = 0;
        mnd_probe_state.stack_at_invoke = mnd_stack_in_use();
        mnd_model_invoke(mnd_probe_input, mnd_probe_output);
        mnd_probe_state.stack_peak = mnd_stack_peak();
        mnd_probe_state.samples++;
    }
}
