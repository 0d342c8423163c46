/* Private to kernels_depthwise_dsp.c: the multiply-accumulate steps of its windows, as inline assembly on cores with
 * the DSP extension (their loads ordered for the core's pipeline) and as C where it is missing (a host build, for
 * diagnosis). */
#ifndef MND_KERNELS_DEPTHWISE_DSP_ASM_H_
#define MND_KERNELS_DEPTHWISE_DSP_ASM_H_

#include <stdint.h>

#include "kernels_dsp.h"

typedef struct {
  int32_t c0, c1, c2, c3;
} sums_4;

typedef struct {
  int32_t low, high; /* the sums of a word's bottom and top lanes */
} lane_sums;

/* Cortex-M7, the one core with these kernels and a double-precision FPU (a heuristic: an M7 built for another FPU
 * runs the M4's code, as exact, a little slower): dual issue pairs a load with a multiply, and LDRD loads two
 * words in a cycle; the M4 and M33 pipeline back-to-back LDRs instead (2 cycles, then 1 each). */
#if defined(__ARM_FP) && (__ARM_FP & 8)
#define DUAL_ISSUE 1
#else
#define DUAL_ISSUE 0
#endif

#if defined(__ARM_FEATURE_DSP)
/* One tap: two words of x's lanes at byte `at` from x, then two of w's at byte `wat` from w. */
#if DUAL_ISSUE
#define TAP_4_LOADS(x, at, wat)                           \
  "ldrd %[xe], %[xo], [%[" x "], #" at "]\n\t"            \
  "ldrd %[we], %[wo], [%[w], #" wat "]\n\t"
#else
#define TAP_4_LOADS(x, at, wat)                           \
  "ldr %[xe], [%[" x "], #" at "]\n\t"                    \
  "ldr %[xo], [%[" x "], #" at " + 4]\n\t"                \
  "ldr %[we], [%[w], #" wat "]\n\t"                       \
  "ldr %[wo], [%[w], #" wat " + 4]\n\t"
#endif
#define TAP_4_ASM(x, at, wat)                             \
  TAP_4_LOADS(x, at, wat)                                 \
  "smlabb %[c0], %[xe], %[we], %[c0]\n\t"                 \
  "smlatt %[c2], %[xe], %[we], %[c2]\n\t"                 \
  "smlabb %[c1], %[xo], %[wo], %[c1]\n\t"                 \
  "smlatt %[c3], %[xo], %[wo], %[c3]\n\t"

/* The nine taps (w: the group's 18 weight words). */
static inline __attribute__((always_inline)) sums_4 window_4(const int32_t* r0, const int32_t* r1, const int32_t* r2,
                                                             const int32_t* w, sums_4 s) {
  int32_t xe, xo, we, wo;
  __asm__ volatile(TAP_4_ASM("r0", "0", "0") TAP_4_ASM("r0", "8", "8") TAP_4_ASM("r0", "16", "16")
                   TAP_4_ASM("r1", "0", "24") TAP_4_ASM("r1", "8", "32") TAP_4_ASM("r1", "16", "40")
                   TAP_4_ASM("r2", "0", "48") TAP_4_ASM("r2", "8", "56") TAP_4_ASM("r2", "16", "64")
                   : [c0] "+r"(s.c0), [c1] "+r"(s.c1), [c2] "+r"(s.c2), [c3] "+r"(s.c3),
                     [xe] "=&r"(xe), [xo] "=&r"(xo), [we] "=&r"(we), [wo] "=&r"(wo)
                   : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [w] "r"(w)
                   : "memory");
  return s;
}

/* One filter row of five taps (w: its first). */
static inline __attribute__((always_inline)) sums_4 row5_4(const int32_t* r0, const int32_t* w, sums_4 s) {
  int32_t xe, xo, we, wo;
  __asm__ volatile(TAP_4_ASM("r0", "0", "0") TAP_4_ASM("r0", "8", "8") TAP_4_ASM("r0", "16", "16")
                   TAP_4_ASM("r0", "24", "24") TAP_4_ASM("r0", "32", "32")
                   : [c0] "+r"(s.c0), [c1] "+r"(s.c1), [c2] "+r"(s.c2), [c3] "+r"(s.c3),
                     [xe] "=&r"(xe), [xo] "=&r"(xo), [we] "=&r"(we), [wo] "=&r"(wo)
                   : [r0] "r"(r0), [w] "r"(w)
                   : "memory");
  return s;
}
/* ---- stride 1, 3x3: two neighbouring output columns at once, one channel pair (the lanes of one word) ----
 * Per filter row the two windows read four columns; the second window's taps are the first's shifted by one, so
 * the three weight words and four input words are loaded once for both: 7 loads and 12 multiply-accumulates. */
#define ROW_PAIR_S1_ASM(x_at, w_at)                       \
  "ldr %[w0], [%[w], #" #w_at "]\n\t"                    \
  "ldr %[w1], [%[w], #" #w_at " + 8]\n\t"                \
  "ldr %[w2], [%[w], #" #w_at " + 16]\n\t"               \
  "ldr %[x0], [%[x], #" #x_at "]\n\t"                    \
  "ldr %[x1], [%[x], #" #x_at " + 8]\n\t"                \
  "smlabb %[a0], %[x0], %[w0], %[a0]\n\t"             \
  "smlatt %[a1], %[x0], %[w0], %[a1]\n\t"             \
  "smlabb %[a0], %[x1], %[w1], %[a0]\n\t"             \
  "smlatt %[a1], %[x1], %[w1], %[a1]\n\t"             \
  "smlabb %[b0], %[x1], %[w0], %[b0]\n\t"             \
  "smlatt %[b1], %[x1], %[w0], %[b1]\n\t"             \
  "ldr %[x0], [%[x], #" #x_at " + 16]\n\t"               \
  "ldr %[x1], [%[x], #" #x_at " + 24]\n\t"               \
  "smlabb %[a0], %[x0], %[w2], %[a0]\n\t"             \
  "smlatt %[a1], %[x0], %[w2], %[a1]\n\t"             \
  "smlabb %[b0], %[x0], %[w1], %[b0]\n\t"             \
  "smlatt %[b1], %[x0], %[w1], %[b1]\n\t"             \
  "smlabb %[b0], %[x1], %[w2], %[b0]\n\t"             \
  "smlatt %[b1], %[x1], %[w2], %[b1]\n\t"

/* Stride 2: the second window starts two columns on; the two share one column, five input words a row. */
#define ROW_PAIR_S2_ASM(x_at, w_at)                     \
  "ldr %[w0], [%[w], #" #w_at "]\n\t"                    \
  "ldr %[w1], [%[w], #" #w_at " + 8]\n\t"                \
  "ldr %[w2], [%[w], #" #w_at " + 16]\n\t"               \
  "ldr %[x0], [%[x], #" #x_at "]\n\t"                    \
  "ldr %[x1], [%[x], #" #x_at " + 8]\n\t"                \
  "smlabb %[a0], %[x0], %[w0], %[a0]\n\t"             \
  "smlatt %[a1], %[x0], %[w0], %[a1]\n\t"             \
  "smlabb %[a0], %[x1], %[w1], %[a0]\n\t"             \
  "smlatt %[a1], %[x1], %[w1], %[a1]\n\t"             \
  "ldr %[x0], [%[x], #" #x_at " + 16]\n\t"               \
  "ldr %[x1], [%[x], #" #x_at " + 24]\n\t"               \
  "smlabb %[a0], %[x0], %[w2], %[a0]\n\t"             \
  "smlatt %[a1], %[x0], %[w2], %[a1]\n\t"             \
  "smlabb %[b0], %[x0], %[w0], %[b0]\n\t"             \
  "smlatt %[b1], %[x0], %[w0], %[b1]\n\t"             \
  "smlabb %[b0], %[x1], %[w1], %[b0]\n\t"             \
  "smlatt %[b1], %[x1], %[w1], %[b1]\n\t"             \
  "ldr %[x0], [%[x], #" #x_at " + 32]\n\t"               \
  "smlabb %[b0], %[x0], %[w2], %[b0]\n\t"             \
  "smlatt %[b1], %[x0], %[w2], %[b1]\n\t"

/* x_at, w_at: byte offsets from x and w (the odd lanes of a group: 4 more) */
#define ROW_PAIR(xp, wp, a, b, x_at, w_at, stride)                                                                   \
  do {                                                                                                               \
    int32_t w0, w1, w2, x0, x1;                                                                                      \
    __asm__(ROW_PAIR##stride##_ASM(x_at, w_at)                                                                       \
          : [a0] "+r"((a).low), [a1] "+r"((a).high), [b0] "+r"((b).low), [b1] "+r"((b).high), [w0] "=&r"(w0),  \
            [w1] "=&r"(w1), [w2] "=&r"(w2), [x0] "=&r"(x0), [x1] "=&r"(x1)                                          \
          : [x] "r"(xp), [w] "r"(wp)                                                                                 \
          : "memory");                                                                                               \
  } while (0)
#else
static inline sums_4 tap_4(const int32_t* x, const int32_t* w, sums_4 s) {
  s.c0 = smlabb(x[0], w[0], s.c0);
  s.c2 = smlatt(x[0], w[0], s.c2);
  s.c1 = smlabb(x[1], w[1], s.c1);
  s.c3 = smlatt(x[1], w[1], s.c3);
  return s;
}

static inline sums_4 window_4(const int32_t* r0, const int32_t* r1, const int32_t* r2, const int32_t* w, sums_4 s) {
  const int32_t* rows[3] = {r0, r1, r2};
  int32_t k;
  for (k = 0; k < 9; ++k) s = tap_4(rows[k / 3] + 2 * (k % 3), w + 2 * k, s);
  return s;
}

static inline sums_4 row5_4(const int32_t* r0, const int32_t* w, sums_4 s) {
  int32_t k;
  for (k = 0; k < 5; ++k) s = tap_4(r0 + 2 * k, w + 2 * k, s);
  return s;
}
#define ROW_PAIR_STRIDE_S1 1
#define ROW_PAIR_STRIDE_S2 2
#define ROW_PAIR(x, w, a, b, x_at, w_at, stride) row_pair(x, w, &(a), &(b), x_at, w_at, ROW_PAIR_STRIDE##stride)
static inline void row_pair(const int32_t* x_base, const int32_t* w_base, lane_sums* a, lane_sums* b, int32_t x_at,
                            int32_t w_at, int32_t stride) {
  const int32_t* x = x_base + x_at / 4;
  const int32_t* w = w_base + w_at / 4;
  int32_t kx;
  for (kx = 0; kx < 3; ++kx) {
    a->low = smlabb(x[2 * kx], w[2 * kx], a->low);
    a->high = smlatt(x[2 * kx], w[2 * kx], a->high);
    b->low = smlabb(x[2 * kx + 2 * stride], w[2 * kx], b->low);
    b->high = smlatt(x[2 * kx + 2 * stride], w[2 * kx], b->high);
  }
}
#endif

#endif
