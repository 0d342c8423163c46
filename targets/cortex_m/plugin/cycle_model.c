/* Per-instruction cycle costs; see cycle_model.h. Cortex-M4 (and M33, which has no table of its own) from the
 * Cortex-M4 TRM (ARM DDI 0439B) Table 3-1, its section 3.3.2 load/store timings and Table 7-1 (FPU); Cortex-M7
 * and Cortex-M55 approximated as docs/DESIGN.md says. */
#include <string.h>

#include "cycle_model.h"

#define REFILL 2         /* P: the pipeline refill of a taken branch (TRM: 1 to 3; 2 = aligned target) */
#define DIVIDE 12        /* SDIV/UDIV: 2 to 12 by operand; a 7.2 plugin sees no operands, so the worst case */
#define FP_DIVIDE 14     /* VDIV, VSQRT */
#define FP_MAC 3         /* VMLA, VFMA and the other fused / chained multiply-accumulates */

int core_model_named(const char* name, enum core_model* model)
{
    static const struct { const char* name; enum core_model model; } known[] = {
        {"cortex-m4", MODEL_M4}, {"cortex-m7", MODEL_M7}, {"cortex-m33", MODEL_M33}, {"cortex-m55", MODEL_M55}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(name, known[i].name) == 0) {
            *model = known[i].model;
            return 0;
        }
    }
    return -1;
}

/* TRM 3.3.2: an LDR is pipelined (one cycle less) after a single load whose destination is not part of its
 * address; nothing pipelines after a store, LDRD/STRD or LDM/STM, and LDR PC always blocks. */
static int pipelined_load(const struct decoded* d, const struct decoded* prev)
{
    return d->kind == K_LOAD && !d->writes_pc && prev && prev->kind == K_LOAD
           && (prev->dest < 0 || !((d->address >> prev->dest) & 1));
}

static unsigned m4_cycles(const struct decoded* d, const struct decoded* prev)
{
    switch (d->kind) {
    case K_LOAD: return pipelined_load(d, prev) ? 1 : 2;
    case K_DUAL: return 3;
    case K_LOAD_MULTI:
    case K_STORE_MULTI:
    case K_FP_MULTI: return 1 + d->regs;
    case K_TABLE_BRANCH: return 4;  /* 2 load + 1 add + 3 refill = 6 taken (TRM 3.3.2); REFILL covers 2 */
    case K_DIV: return DIVIDE;
    case K_FP_MAC: return FP_MAC;
    case K_FP_DIV: return FP_DIVIDE;
    case K_FP_LOAD:
    case K_FP_MOV2: return 2;
    default: return 1;             /* ALU, MUL and the DSP multiply-accumulates, STR, branches not taken, IT */
    }
}

static int memory_op(const struct decoded* d)
{
    return d->kind == K_LOAD || d->kind == K_STORE || d->kind == K_DUAL || d->kind == K_FP_LOAD;
}

static int fp_op(const struct decoded* d)
{
    return d->kind >= K_FP && d->kind <= K_FP_MOV2;
}

static unsigned m7_base(const struct decoded* d)
{
    switch (d->kind) {
    case K_LOAD:
    case K_STORE:
    case K_DUAL:
    case K_FP_LOAD: return 1;
    case K_LOAD_MULTI:
    case K_STORE_MULTI:
    case K_FP_MULTI: return 1 + (d->regs + 1) / 2;
    default: return m4_cycles(d, NULL);
    }
}

/* Cortex-M7 (approximation): loads and stores single-cycle (TCM / cache hits), LDM/STM two registers a cycle,
 * and a single-cycle instruction issues with the single-cycle one before it unless that one already paired,
 * is a branch, or both use memory, both multiply or both use the FPU. Register dependencies are not modelled. */
static int m7_pairs(const struct decoded* d, const struct decoded* prev)
{
    return !prev->writes_pc && !(memory_op(d) && memory_op(prev)) && !(d->kind == K_MUL && prev->kind == K_MUL)
           && !(fp_op(d) && fp_op(prev));
}

static int vector_op(const struct decoded* d)
{
    return d->kind == K_VECTOR || d->kind == K_VECTOR_MEM;
}

/* Cortex-M55 (approximation): scalar code as the M4; an MVE instruction is 4 beats at 2 beats a cycle (2
 * cycles), overlapped to 1 when it follows an MVE instruction of the other kind (memory vs arithmetic); LE
 * loops back at no cost (the loop cache) and costs 1 on exit. */
static unsigned m55_cycles(const struct decoded* d, const struct decoded* prev)
{
    if (vector_op(d))
        return prev && vector_op(prev) && prev->kind != d->kind ? 1 : 2;
    return m4_cycles(d, prev);
}

void block_cost(enum core_model model, const struct decoded* insns, size_t n, struct block_cost* out)
{
    uint64_t cycles = 0;
    unsigned previous_cost = 0;
    int paired = 0;
    for (size_t i = 0; i < n; i++) {
        const struct decoded* d = &insns[i];
        const struct decoded* prev = i ? &insns[i - 1] : NULL;
        unsigned cost;
        if (model == MODEL_M7) {
            cost = m7_base(d);
            paired = cost == 1 && previous_cost == 1 && !paired && m7_pairs(d, prev);
            previous_cost = cost;
            cost = paired ? 0 : cost;
        } else if (model == MODEL_M55) {
            cost = m55_cycles(d, prev);
        } else {
            cost = m4_cycles(d, prev);
        }
        cycles += cost;
    }
    out->cycles = cycles;
    out->taken_extra = 0;
    const struct decoded* last = n ? &insns[n - 1] : NULL;
    if (last && last->writes_pc) {
        if (model == MODEL_M7)
            out->taken_extra = last->indirect ? REFILL : 0;  /* direct branches predicted (approximation) */
        else if (model == MODEL_M55 && last->kind == K_LOOP_END)
            out->taken_extra = -1;
        else
            out->taken_extra = REFILL;
    }
}

int64_t fallthrough_adjustment(enum core_model model, const struct decoded* last, const struct decoded* first)
{
    switch (model) {
    case MODEL_M4:
    case MODEL_M33: return (int64_t)m4_cycles(first, last) - (int64_t)m4_cycles(first, NULL);
    case MODEL_M55: return (int64_t)m55_cycles(first, last) - (int64_t)m55_cycles(first, NULL);
    default: return 0;  /* M7: dual-issue pairing is not carried from one block to the next */
    }
}
