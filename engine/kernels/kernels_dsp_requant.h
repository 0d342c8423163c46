/* Private to the DSP kernels (kernels_conv_dsp.c, kernels_depthwise_dsp.c): their per-channel requantization
 * tables and the requantize step their inner loops inline. Not part of the kernels' interface (kernels.h). Static
 * in each kernel file on purpose: built there, the table code is specialized for its callers (measured: as one
 * shared extern function the VWW model costs 0.5% more instructions on the M4). */
#ifndef MND_KERNELS_DSP_REQUANT_H_
#define MND_KERNELS_DSP_REQUANT_H_

#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "kernels_dsp.h"

static inline int32_t load_word(const int8_t* p) {
  int32_t word;
  memcpy(&word, p, 4);
  return word;
}

/* ---- requantization: TFLite's double rounding with one rounding multiply ----
 * (x * 2 * m + 2^31) >> 32 is gemmlowp's SaturatingRoundingDoublingHighMul of x and m while 2x fits in int32.
 * requant_table checks that for every channel from its bias and the largest possible sum of products
 * (depth * 128 * 128); a channel with a huge bias (a dead channel's, near 2^30) is `wide`: its high half comes
 * from the 64-bit product instead. The division by 2^right (1 <= right <= 31) then rounds half away from zero.
 * For right <= 22 the output zero point is added before it as zero_point * 2^right (exact: a multiple of 2^right;
 * the sum stays under 2^30 + 2^29), otherwise, and for a wide channel, after it (`extra`). Any other channel (a
 * left shift, a high half too close to 2^31) keeps the arithmetic of mnd_requantize, marked by right 0, with its
 * shift in `extra` and the zero point in `offset`. */

#define MAX_FOLDED_RIGHT 22

typedef struct {
  int32_t bias, multiplier, offset, right, extra, wide;
} requant;

static int64_t sum_bound(int32_t bias, int32_t depth) {
  return (bias < 0 ? -(int64_t)bias : (int64_t)bias) + (int64_t)depth * 128 * 128;
}

/* sum_bound < 2^30 without 64-bit arithmetic where depth < 2^16 (every layer of a MobileNet). */
static int fits_one_multiply(int32_t bias, int32_t depth) {
  const uint32_t magnitude = bias < 0 ? 0u - (uint32_t)bias : (uint32_t)bias;
  if (depth >= (1 << 16)) return sum_bound(bias, depth) < ((int64_t)1 << 30);
  return magnitude < (1u << 30) && magnitude + ((uint32_t)depth << 14) < (1u << 30);
}

/* Whether the high half of the 64-bit product plus the rounding offset 2^(right - 1) stays in int32. */
static int wide_fits(int64_t bound, int32_t multiplier, int32_t right) {
  return bound < ((int64_t)1 << 31) && ((bound * multiplier) >> 31) + 1 + ((int64_t)1 << (right - 1)) < ((int64_t)1 << 31);
}

static inline __attribute__((always_inline)) void requant_entry(int32_t multiplier, int32_t shift, int32_t bias,
                                                               int32_t depth, int32_t zero_point, requant* r) {
  /* multiplier 0 (a dead channel): every output is the zero point, which right 1 gives for any shift */
  const int32_t right = multiplier == 0 ? 1 : (shift < 0 ? -shift : 0);
  if (multiplier == 0) bias = 0;
  r->bias = bias;
  r->multiplier = multiplier;
  r->offset = zero_point;
  r->right = 0;
  r->extra = shift;
  r->wide = 0;
  if (right < 1 || right > 31) return;
  if (fits_one_multiply(bias, depth)) {
    const int folded = right <= MAX_FOLDED_RIGHT;
    r->right = right;
    r->offset = ((int32_t)1 << (right - 1)) + (folded ? zero_point * ((int32_t)1 << right) : 0);
    r->extra = folded ? 0 : zero_point;
  } else if (wide_fits(sum_bound(bias, depth), multiplier, right)) {
    r->right = right;
    r->offset = (int32_t)1 << (right - 1);
    r->extra = zero_point;
    r->wide = 1;
  }
}

/* How a layer's channels requantize: every one with the zero point folded in, every one with one multiply, every
 * one with one multiply some of them wide, or some with mnd_requantize. */
enum { REQUANT_ANY, REQUANT_WIDE, REQUANT_ONE_MULTIPLY, REQUANT_FOLDED };

/* entries: channels rounded up (to a whole channel pair or group); the padding entries have bias 0. Returns the
 * layer's REQUANT_ kind. */
static int requant_table(const int32_t* multiplier, const int32_t* shift, const int32_t* bias, int32_t depth,
                         int32_t channels, int32_t entries, int32_t zero_point, requant* table) {
  int folded = 1, one_multiply = 1, narrow = 1;
  int32_t c;
  for (c = 0; c < entries; ++c) {
    if (c < channels)
      requant_entry(multiplier[c], shift[c], bias ? bias[c] : 0, depth, zero_point, &table[c]);
    else
      requant_entry(0, 0, 0, depth, zero_point, &table[c]);
    one_multiply &= table[c].right != 0;
    narrow &= !table[c].wide;
    folded &= table[c].right != 0 && table[c].extra == 0;
  }
  if (!one_multiply) return REQUANT_ANY;
  return !narrow ? REQUANT_WIDE : (folded ? REQUANT_FOLDED : REQUANT_ONE_MULTIPLY);
}

typedef struct {
  int32_t act_min, act_max;
} output_range;

static inline __attribute__((always_inline)) int8_t clamp(int32_t value, output_range out, int full) {
  if (full) return (int8_t)ssat8(value);
  value = value < out.act_min ? out.act_min : value;
  return (int8_t)(value > out.act_max ? out.act_max : value);
}

static __attribute__((noinline)) int32_t requantize_64(const requant* r, int32_t acc) {
  return mnd_requantize(acc, r->multiplier, r->extra) + r->offset;
}

/* SaturatingRoundingDoublingHighMul of acc and multiplier, either way (no saturation: multiplier >= 0). */
static inline __attribute__((always_inline)) int32_t high_half(int32_t acc, int32_t multiplier, int wide) {
  if (wide) return (int32_t)(((int64_t)acc * multiplier + ((int64_t)1 << 30)) >> 31);
  return smmulr((int32_t)((uint32_t)acc << 1), multiplier);
}

/* full: act_min -128 and act_max 127 (a constant where the callers are inlined: one SSAT clamps). */
static inline __attribute__((always_inline)) int8_t requantize(const requant* r, int32_t acc, output_range out,
                                                               int full) {
  int32_t value;
  if (__builtin_expect(r->right != 0, 1)) {
    const int32_t high = r->wide ? high_half(acc, r->multiplier, 1) : high_half(acc, r->multiplier, 0);
    value = ((high + r->offset + (high >> 31)) >> r->right) + r->extra;
  } else {
    value = requantize_64(r, acc);
  }
  return clamp(value, out, full);
}

/* requantize for a channel known to take the one-multiply path (right > 0), its fields already loaded; extra
 * as in the table, or 0 where the zero point is folded; wide: for every channel of a REQUANT_WIDE layer. */
static inline __attribute__((always_inline)) int8_t requantize_fast(int32_t acc, int32_t multiplier, int32_t offset,
                                                                    int32_t right, int32_t extra, output_range out,
                                                                    int full, int wide) {
  const int32_t high = high_half(acc, multiplier, wide);
  return clamp(((high + offset + (high >> 31)) >> right) + extra, out, full);
}

/* (a * b + 2^31) >> 32 plus c: SMMLAR (exact: c joins above the product's low word). */
static inline int32_t smmlar(int32_t a, int32_t b, int32_t c) {
#if defined(__ARM_FEATURE_DSP)
  int32_t r;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
#else
  return (int32_t)(uint32_t)((uint64_t)(((int64_t)c << 32) + (int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* A folded channel's output saturated to [-128, 127], as an int32 (no sign extension to pay where the value is
 * packed next), from the sum doubled (two_acc: requantize_fast's high half without its shift). SMMLAR adds the
 * offset; the sign of two_acc stands in for the high half's: they differ only where the high half rounds to 0 from
 * a negative sum, and there (offset - 1) >> right == offset >> right (offset is 2^(right - 1) above a multiple of
 * 2^right). */
static inline __attribute__((always_inline)) int32_t requantize_folded(int32_t two_acc, int32_t multiplier,
                                                                       int32_t offset, int32_t right) {
  return ssat8((smmlar(two_acc, multiplier, offset) + (two_acc >> 31)) >> right);
}

static inline int full_range(int32_t act_min, int32_t act_max) { return act_min == -128 && act_max == 127; }

/* ---- four outputs in one word: the int8 values (already in [-128, 127]) packed in memory order ---- */
static inline __attribute__((always_inline)) uint32_t pack_4(int32_t v0, int32_t v1, int32_t v2, int32_t v3) {
#if defined(__ARM_FEATURE_DSP)
  uint32_t even, odd; /* bytes 0 and 2 from (v0, v2) and (v1, v3) halfword pairs, the odd ones shifted up by 8 */
  __asm__("pkhbt %[e], %[v0], %[v2], lsl #16\n\t"
          "pkhbt %[o], %[v1], %[v3], lsl #16\n\t"
          "uxtb16 %[e], %[e]\n\t"
          "uxtb16 %[o], %[o]\n\t"
          "orr %[e], %[e], %[o], lsl #8"
          : [e] "=&r"(even), [o] "=&r"(odd)
          : [v0] "r"(v0), [v1] "r"(v1), [v2] "r"(v2), [v3] "r"(v3));
  return even;
#else
  return ((uint32_t)v0 & 0xffu) | (((uint32_t)v1 & 0xffu) << 8) | (((uint32_t)v2 & 0xffu) << 16) |
         ((uint32_t)v3 << 24);
#endif
}

/* range's bounds in all four bytes of a word, for clamp_4 */
typedef struct {
  uint32_t low, high;
} byte_bounds;

static inline byte_bounds bounds_4(output_range range) {
  const byte_bounds b = {((uint32_t)range.act_min & 0xffu) * 0x01010101u, ((uint32_t)range.act_max & 0xffu) * 0x01010101u};
  return b;
}

/* Each signed byte of `packed` clamped to [low, high]: SSUB8 sets a GE flag per byte, SEL picks by them. */
static inline __attribute__((always_inline)) uint32_t clamp_4(uint32_t packed, byte_bounds b) {
#if defined(__ARM_FEATURE_DSP)
  uint32_t difference;
  __asm__("ssub8 %[d], %[v], %[lo]\n\t"
          "sel %[v], %[v], %[lo]\n\t"
          "ssub8 %[d], %[hi], %[v]\n\t"
          "sel %[v], %[v], %[hi]"
          : [v] "+r"(packed), [d] "=&r"(difference)
          : [lo] "r"(b.low), [hi] "r"(b.high)
          : "cc");
  return packed;
#else
  uint32_t result = 0;
  int32_t k;
  for (k = 0; k < 32; k += 8) {
    const int32_t value = (int8_t)(packed >> k), low = (int8_t)(b.low >> k), high = (int8_t)(b.high >> k);
    result |= ((uint32_t)(value < low ? low : (value > high ? high : value)) & 0xffu) << k;
  }
  return result;
#endif
}

static inline void store_word(int8_t* p, uint32_t word) { memcpy(p, &word, 4); }

#endif
