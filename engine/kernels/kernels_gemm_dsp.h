/* Private to kernels_conv_dsp.c: its GEMM step, three pixels' int16 lanes times two output channels' weights
 * (inline assembly on the DSP extension, C versions of the same for a host build). */
#ifndef MND_KERNELS_GEMM_DSP_H_
#define MND_KERNELS_GEMM_DSP_H_

#include <stdint.h>
#include <string.h>

#include "kernels_dsp.h"
#include "kernels_dsp_requant.h"

/* ---- convolutions as a GEMM over pixel triples x output channel pairs ----
 * Each pixel's depth (its in_c values for a 1x1 convolution; its k_h x k_w window, gathered into scratch, for any
 * other) is split four bytes at a time into even and odd int16 lanes (sxtb16), the three pixels' lanes side by
 * side, so that the inner loop loads them ready for SMLAD: six sums (three pixels x two channels) per pass, each
 * weight word widened once for three pixels. Weights (layouts.pointwise_dsp): channel pairs, each as one word per
 * channel per 4-byte group, in groups of ceil(depth / 4) zero-padded; an odd last channel is paired with zeros. */

#define TILE_PIXELS 3

static void split_word(int32_t word, int32_t* lanes) {
  lanes[0] = sxtb16_even(word);
  lanes[1] = sxtb16_odd(word);
}

/* The lanes of three pixels (a lone or paired last pixel repeated by the caller). */
static void split_pixel_triple(const int8_t* a, const int8_t* b, const int8_t* c, int32_t depth, int32_t* lanes) {
  const int32_t whole = depth & ~3;
  int32_t k;
  for (k = 0; k < whole; k += 4, lanes += 6) {
    const int32_t wa = load_word(a + k), wb = load_word(b + k), wc = load_word(c + k);
    split_word(wa, lanes);
    split_word(wb, lanes + 2);
    split_word(wc, lanes + 4);
  }
  if (whole < depth) {
    int8_t ta[4] = {0, 0, 0, 0}, tb[4] = {0, 0, 0, 0}, tc[4] = {0, 0, 0, 0};
    memcpy(ta, a + whole, (size_t)(depth - whole));
    memcpy(tb, b + whole, (size_t)(depth - whole));
    memcpy(tc, c + whole, (size_t)(depth - whole));
    split_pixel_triple(ta, tb, tc, 4, lanes);
  }
}

typedef struct {
  int32_t p0c0, p0c1, p1c0, p1c1, p2c0, p2c1;
} sums_3x2;

#if defined(__ARM_FEATURE_DSP)
/* One group, the loads post-incrementing x and w. The first loads run back to back (each pipelined behind the one
 * before); 27 cycles on a Cortex-M4 for 24 multiply-accumulates, 25 with weights widened ahead of time. */
#define GROUP_3X2_ASM                                        \
  "ldr %[w0], [%[w]], #4\n\t"                               \
  "ldr %[w1], [%[w]], #4\n\t"                               \
  "ldr %[xe], [%[x]], #4\n\t"                               \
  "ldr %[xo], [%[x]], #4\n\t"                               \
  "sxtb16 %[e0], %[w0]\n\t"                                 \
  "sxtb16 %[w0], %[w0], ror #8\n\t"                         \
  "sxtb16 %[e1], %[w1]\n\t"                                 \
  "sxtb16 %[w1], %[w1], ror #8\n\t"                         \
  GROUP_3X2_SUMS

#define GROUP_3X2_W16_ASM                                    \
  "ldr %[e0], [%[w]], #4\n\t"                               \
  "ldr %[w0], [%[w]], #4\n\t"                               \
  "ldr %[e1], [%[w]], #4\n\t"                               \
  "ldr %[w1], [%[w]], #4\n\t"                               \
  "ldr %[xe], [%[x]], #4\n\t"                               \
  "ldr %[xo], [%[x]], #4\n\t"                               \
  GROUP_3X2_SUMS

#define GROUP_3X2_SUMS                                       \
  "smlad %[p0c0], %[xe], %[e0], %[p0c0]\n\t"                \
  "smlad %[p0c0], %[xo], %[w0], %[p0c0]\n\t"                \
  "smlad %[p0c1], %[xe], %[e1], %[p0c1]\n\t"                \
  "smlad %[p0c1], %[xo], %[w1], %[p0c1]\n\t"                \
  "ldrd %[xe], %[xo], [%[x]], #8\n\t"                       \
  "smlad %[p1c0], %[xe], %[e0], %[p1c0]\n\t"                \
  "smlad %[p1c0], %[xo], %[w0], %[p1c0]\n\t"                \
  "smlad %[p1c1], %[xe], %[e1], %[p1c1]\n\t"                \
  "smlad %[p1c1], %[xo], %[w1], %[p1c1]\n\t"                \
  "ldrd %[xe], %[xo], [%[x]], #8\n\t"                       \
  "smlad %[p2c0], %[xe], %[e0], %[p2c0]\n\t"                \
  "smlad %[p2c0], %[xo], %[w0], %[p2c0]\n\t"                \
  "smlad %[p2c1], %[xe], %[e1], %[p2c1]\n\t"                \
  "smlad %[p2c1], %[xo], %[w1], %[p2c1]\n\t"

#define GROUPS_3X2_OPERANDS                                                                                       \
  : [p0c0] "+r"(s.p0c0), [p0c1] "+r"(s.p0c1), [p1c0] "+r"(s.p1c0), [p1c1] "+r"(s.p1c1), [p2c0] "+r"(s.p2c0),     \
    [p2c1] "+r"(s.p2c1), [x] "+r"(*x), [w] "+r"(*w), [w0] "=&r"(w0), [w1] "=&r"(w1), [xe] "=&r"(xe),             \
    [xo] "=&r"(xo), [e0] "=&r"(e0), [e1] "=&r"(e1)                                                              \
  :                                                                                                               \
  : "memory"

/* count: 1, 2 or 4 groups. */
static inline __attribute__((always_inline)) sums_3x2 groups_3x2(const int32_t** x, const int32_t** w, sums_3x2 s,
                                                                 int count, int w16) {
  int32_t w0, w1, xe, xo, e0, e1;
  if (w16 && count == 4)
    __asm__ volatile(GROUP_3X2_W16_ASM GROUP_3X2_W16_ASM GROUP_3X2_W16_ASM GROUP_3X2_W16_ASM GROUPS_3X2_OPERANDS);
  else if (count == 4)
    __asm__ volatile(GROUP_3X2_ASM GROUP_3X2_ASM GROUP_3X2_ASM GROUP_3X2_ASM GROUPS_3X2_OPERANDS);
  else if (w16 && count == 2)
    __asm__ volatile(GROUP_3X2_W16_ASM GROUP_3X2_W16_ASM GROUPS_3X2_OPERANDS);
  else if (w16)
    __asm__ volatile(GROUP_3X2_W16_ASM GROUPS_3X2_OPERANDS);
  else if (count == 2)
    __asm__ volatile(GROUP_3X2_ASM GROUP_3X2_ASM GROUPS_3X2_OPERANDS);
  else
    __asm__ volatile(GROUP_3X2_ASM GROUPS_3X2_OPERANDS);
  return s;
}
#else
/* One group: three pixels' lanes (six words) times two channels' weights (two words, or four widened: per
 * channel its even and odd lanes). */
static inline sums_3x2 group_3x2(const int32_t* x, const int32_t* w, sums_3x2 s, int w16) {
  const int32_t e0 = w16 ? w[0] : sxtb16_even(w[0]), o0 = w16 ? w[1] : sxtb16_odd(w[0]);
  const int32_t e1 = w16 ? w[2] : sxtb16_even(w[1]), o1 = w16 ? w[3] : sxtb16_odd(w[1]);
  s.p0c0 = smlad(x[1], o0, smlad(x[0], e0, s.p0c0));
  s.p0c1 = smlad(x[1], o1, smlad(x[0], e1, s.p0c1));
  s.p1c0 = smlad(x[3], o0, smlad(x[2], e0, s.p1c0));
  s.p1c1 = smlad(x[3], o1, smlad(x[2], e1, s.p1c1));
  s.p2c0 = smlad(x[5], o0, smlad(x[4], e0, s.p2c0));
  s.p2c1 = smlad(x[5], o1, smlad(x[4], e1, s.p2c1));
  return s;
}

static inline sums_3x2 groups_3x2(const int32_t** x, const int32_t** w, sums_3x2 s, int count, int w16) {
  int32_t g;
  for (g = 0; g < count; ++g, *x += 6, *w += w16 ? 4 : 2) s = group_3x2(*x, *w, s, w16);
  return s;
}
#endif

/* ---- a lone pixel (a layer's last where a triple would sum it three times: a 1x1 image's, as in squeeze-excite
 * blocks and classifier heads) ----
 * Its lanes, two words a group, times two output channels' weights per pass. */

static void split_pixel(const int8_t* a, int32_t depth, int32_t* lanes) {
  const int32_t whole = depth & ~3;
  int32_t k;
  for (k = 0; k < whole; k += 4, lanes += 2) split_word(load_word(a + k), lanes);
  if (whole < depth) {
    int8_t tail[4] = {0, 0, 0, 0};
    memcpy(tail, a + whole, (size_t)(depth - whole));
    split_word(load_word(tail), lanes);
  }
}

typedef struct {
  int32_t c0, c1;
} sums_1x2;

#if defined(__ARM_FEATURE_DSP)
/* One group, the loads post-incrementing x and w: ten instructions, seven with weights widened ahead of time. */
#define GROUP_1X2_SUMS                         \
  "smlad %[c0], %[xe], %[e0], %[c0]\n\t"      \
  "smlad %[c0], %[xo], %[o0], %[c0]\n\t"      \
  "smlad %[c1], %[xe], %[e1], %[c1]\n\t"      \
  "smlad %[c1], %[xo], %[o1], %[c1]\n\t"

#define GROUP_1X2_OPERANDS                                                                                   \
  : [c0] "+r"(s.c0), [c1] "+r"(s.c1), [x] "+r"(x), [w] "+r"(v), [xe] "=&r"(xe), [xo] "=&r"(xo), [e0] "=&r"(e0), \
    [o0] "=&r"(o0), [e1] "=&r"(e1), [o1] "=&r"(o1)                                                           \
  :                                                                                                          \
  : "memory"

static inline __attribute__((always_inline)) sums_1x2 group_1x2(const int32_t** x_at, const int32_t** w_at,
                                                                sums_1x2 s, int w16) {
  const int32_t *x = *x_at, *v = *w_at;
  int32_t xe, xo, e0, o0, e1, o1;
  if (w16)
    __asm__ volatile("ldrd %[xe], %[xo], [%[x]], #8\n\t"
                     "ldrd %[e0], %[o0], [%[w]], #8\n\t"
                     "ldrd %[e1], %[o1], [%[w]], #8\n\t" GROUP_1X2_SUMS GROUP_1X2_OPERANDS);
  else
    __asm__ volatile("ldrd %[xe], %[xo], [%[x]], #8\n\t"
                     "ldrd %[o0], %[o1], [%[w]], #8\n\t"
                     "sxtb16 %[e0], %[o0]\n\t"
                     "sxtb16 %[o0], %[o0], ror #8\n\t"
                     "sxtb16 %[e1], %[o1]\n\t"
                     "sxtb16 %[o1], %[o1], ror #8\n\t" GROUP_1X2_SUMS GROUP_1X2_OPERANDS);
  *x_at = x;
  *w_at = v;
  return s;
}
#else
static inline sums_1x2 group_1x2(const int32_t** x, const int32_t** w, sums_1x2 s, int w16) {
  const int32_t* v = *w;
  const int32_t e0 = w16 ? v[0] : sxtb16_even(v[0]), o0 = w16 ? v[1] : sxtb16_odd(v[0]);
  const int32_t e1 = w16 ? v[2] : sxtb16_even(v[1]), o1 = w16 ? v[3] : sxtb16_odd(v[1]);
  s.c0 = smlad((*x)[1], o0, smlad((*x)[0], e0, s.c0));
  s.c1 = smlad((*x)[1], o1, smlad((*x)[0], e1, s.c1));
  *x += 2;
  *w += w16 ? 4 : 2;
  return s;
}
#endif

/* The sums of one channel pair (weights at *w, advanced past them) over `groups` groups of one pixel's lanes. */
static inline __attribute__((always_inline)) sums_1x2 gemm_1x2(const int32_t* x, const int32_t** w, int32_t groups,
                                                               const requant* t, int w16) {
  const int32_t* const end = x + 2 * groups;
  sums_1x2 s = {t[0].bias, t[1].bias};
  while (x != end) s = group_1x2(&x, w, s, w16);
  return s;
}

#endif
