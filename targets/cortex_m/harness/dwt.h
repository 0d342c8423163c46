/* The DWT cycle counter (CYCCNT), where the core has one: QEMU does not emulate it, and some parts leave it out
 * (DWT_CTRL.NOCYCCNT). mnd_dwt_start says which, so that no zero is ever reported as a cycle count. */
#ifndef MND_DWT_H
#define MND_DWT_H

#include <stdint.h>

enum {
    MND_DWT_COUNTING = 0,       /* CYCCNT enabled, reset and seen advancing */
    MND_DWT_NO_CYCCNT = 1,      /* DWT_CTRL.NOCYCCNT: the part has no cycle counter */
    MND_DWT_NOT_ADVANCING = 2,  /* enabled, yet it did not count (no DWT at all, e.g. under QEMU) */
};

#define MND_DWT_CYCCNT (*(volatile uint32_t*)0xE0001004u)

uint32_t mnd_dwt_start(void);   /* one of the values above */

static inline uint32_t mnd_dwt_cycles(void) { return MND_DWT_CYCCNT; }

#endif
