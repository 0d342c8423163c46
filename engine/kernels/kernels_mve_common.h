/* Private to the MVE (Helium) kernels (kernels_*_mve.c): per-channel requantization on four int32 lanes, and
 * the small vector helpers they share. Not part of the kernels' interface (kernels.h). Include it only under
 * __ARM_FEATURE_MVE.
 *
 * Requantization runs on four int32 lanes as TFLite's MultiplyByQuantizedMultiplier: the left shift, VQRDMULH
 * (exactly gemmlowp's SaturatingRoundingDoublingHighMul), then VRSHL by the right shift. VRSHL rounds halves up;
 * TFLite rounds them away from zero, so a negative value first loses one where the shift is nonzero. That value is
 * never INT32_MIN: VQRDMULH with a multiplier below 2^31 cannot return it. */
#ifndef MND_KERNELS_MVE_COMMON_H_
#define MND_KERNELS_MVE_COMMON_H_

#include <arm_mve.h>

#include "kernels.h"


/* One channel's requantization, from its multiplier and shift: left = max(shift, 0), right = min(shift, 0) (a
 * VRSHL amount), round_fix = 1 where right < 0; and its bias (0 without one). */
typedef struct {
  int32_t multiplier, left, right, round_fix, bias;
} channel_requant;

typedef struct {
  int32_t zero_point, act_min, act_max;
} output_range;

static __attribute__((unused)) channel_requant channel_requant_of(const int32_t* multiplier, const int32_t* shift, const int32_t* bias,
                                          int32_t c) {
  channel_requant r;
  r.multiplier = multiplier[c];
  r.left = shift[c] > 0 ? shift[c] : 0;
  r.right = shift[c] < 0 ? shift[c] : 0;
  r.round_fix = shift[c] < 0;
  r.bias = bias ? bias[c] : 0;
  return r;
}

static inline int32x4_t clamp_output(int32x4_t x, output_range out) {
  x = vaddq_n_s32(x, out.zero_point);
  return vminq_s32(vmaxq_s32(x, vdupq_n_s32(out.act_min)), vdupq_n_s32(out.act_max));
}

/* Four sums of one channel; `left`: whether the channel may shift left (a constant where inlined: most layers
 * have no left shift anywhere and skip the VSHL). */
static inline __attribute__((always_inline)) int32x4_t requantize_channel(int32x4_t x, const channel_requant* r,
                                                                          output_range out, int left) {
  if (left) x = vshlq_r_s32(x, r->left);
  x = vqrdmulhq_n_s32(x, r->multiplier);
  x = vmlaq_n_s32(x, vshrq_n_s32(x, 31), r->round_fix);
  return clamp_output(vrshlq_n_s32(x, r->right), out);
}

/* The vector {a, b, c, d}. */
static inline int32x4_t lanes_of(int32_t a, int32_t b, int32_t c, int32_t d) {
  int32x4_t v;
  __asm__("vmov %q0[2], %q0[0], %1, %3\n\tvmov %q0[3], %q0[1], %2, %4" : "=&w"(v) : "r"(a), "r"(b), "r"(c), "r"(d));
  return v;
}

/* Copies n <= 16 bytes. */
static inline void copy_short(int8_t* dst, const int8_t* src, int32_t n) {
  const mve_pred16_t p = vctp8q((uint32_t)n);
  vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
}

static __attribute__((unused)) void copy_bytes(int8_t* dst, const int8_t* src, int32_t n) {
  for (; n > 16; n -= 16, dst += 16, src += 16) vstrbq_s8(dst, vldrbq_s8(src));
  copy_short(dst, src, n);
}

static __attribute__((unused)) void fill_bytes(int8_t* dst, int8_t value, int32_t n) {
  const int8x16_t v = vdupq_n_s8(value);
  for (; n > 16; n -= 16, dst += 16) vstrbq_s8(dst, v);
  vstrbq_p_s8(dst, v, vctp8q((uint32_t)n));
}

#endif
