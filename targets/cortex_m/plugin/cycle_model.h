/* Cycle costs of decoded Thumb instructions on a Cortex-M core at zero wait states, per translation block:
 * the part known at translation, and the extra a taken branch at the block's end costs (added at run time,
 * when the next block executed is not the fall-through one). Tables and sources: docs/DESIGN.md. */
#ifndef MND_CYCLE_MODEL_H
#define MND_CYCLE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "thumb_decode.h"

enum core_model { MODEL_M4, MODEL_M7, MODEL_M33, MODEL_M55 };

struct block_cost {
    uint64_t cycles;      /* every instruction in the block, its final branch not taken */
    int64_t taken_extra;  /* added when that branch is taken (0 when the block does not end in one) */
};

/* 0 and *model set for a known core name (cortex-m4, cortex-m7, cortex-m33, cortex-m55), else -1. */
int core_model_named(const char* name, enum core_model* model);

void block_cost(enum core_model model, const struct decoded* insns, size_t n, struct block_cost* out);

/* What a block entered by falling through from the one before it (QEMU also ends blocks at page boundaries) adds
 * to block_cost's figure, which costs the block's first instruction with no instruction before it: that
 * instruction's cost after `last`, the previous block's last one, minus its cost after none. */
int64_t fallthrough_adjustment(enum core_model model, const struct decoded* last, const struct decoded* first);

#endif
