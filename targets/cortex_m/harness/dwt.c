#include "dwt.h"

#define DEMCR (*(volatile uint32_t*)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t*)0xE0001000u)
#define DWT_LAR (*(volatile uint32_t*)0xE0001FB0u)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_CTRL_NOCYCCNT (1u << 25)
#define CORESIGHT_UNLOCK 0xC5ACCE55u

uint32_t mnd_dwt_start(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = CORESIGHT_UNLOCK;  /* Cortex-M7: the DWT ignores writes until unlocked; elsewhere ignored */
    if (DWT_CTRL & DWT_CTRL_NOCYCCNT) return MND_DWT_NO_CYCCNT;
    MND_DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    uint32_t before = MND_DWT_CYCCNT;
    for (volatile int spin = 0; spin < 16; spin++) {
    }
    return MND_DWT_CYCCNT != before ? MND_DWT_COUNTING : MND_DWT_NOT_ADVANCING;
}
