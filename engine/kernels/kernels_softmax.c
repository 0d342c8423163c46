/* int8 SOFTMAX: TFLite reference integer arithmetic (gemmlowp fixed point) in C99. See kernels.h. */
#include "kernels.h"

/* ---- SOFTMAX: gemmlowp fixed point, as in TFLite's reference kernel ----
 * Raw int32 values carry an implied number of integer bits: Q0.31 ("F0"), Q2.29 ("F2"), Q5.26 for the scaled
 * input differences and Q12.19 for the sum of exponentials. */

/* x * 2^exponent, saturated to int32 (exponent 1..30). */
static inline int32_t saturating_shift_left(int32_t x, int exponent) {
  const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor series around -1/8. */
static int32_t exp_quarter_interval(int32_t a) {
  const int32_t exp_minus_one_eighth = 1895147668;
  const int32_t one_third = 715827883;
  const int32_t x = a + (1 << 28);
  const int32_t x2 = mnd_doubling_high_mul(x, x);
  const int32_t x3 = mnd_doubling_high_mul(x2, x);
  const int32_t x4 = mnd_doubling_high_mul(x2, x2);
  const int32_t x4_over_4 = mnd_rounding_divide_by_pot(x4, 2);
  const int32_t poly = mnd_rounding_divide_by_pot(mnd_doubling_high_mul(x4_over_4 + x3, one_third) + x2, 1);
  return exp_minus_one_eighth + mnd_doubling_high_mul(exp_minus_one_eighth, x + poly);
}

/* exp(a) for a <= 0 in Q5.26, result Q0.31: exp of (a mod 1/4) - 1/4, times exp(-2^k) for each set bit. */
static int32_t exp_on_negative_values(int32_t a) {
  static const int32_t exp_minus_pot[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  const int32_t one_quarter = 1 << 24;
  const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
  const int32_t remainder = a_mod_quarter_minus_quarter - a;
  int32_t result = exp_quarter_interval(saturating_shift_left(a_mod_quarter_minus_quarter, 5));
  int k;
  for (k = 0; k < 7; ++k) /* bit 24 + k of the remainder stands for 2^(k - 2) */
    if (remainder & ((int32_t)1 << (24 + k))) result = mnd_doubling_high_mul(result, exp_minus_pot[k]);
  return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1) in Q0.31: three Newton-Raphson steps on the half denominator, in Q2.29. */
static int32_t one_over_one_plus_x(int32_t a) {
  const int64_t sum = (int64_t)a + INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  int32_t x = 1515870810 + mnd_doubling_high_mul(half_denominator, -1010580540); /* 48/17 - 32/17 d */
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t one_minus_dx = (1 << 29) - mnd_doubling_high_mul(half_denominator, x);
    x += saturating_shift_left(mnd_doubling_high_mul(x, one_minus_dx), 2);
  }
  return saturating_shift_left(x, 1);
}

static int count_leading_zeros(uint32_t x) {
  int n = 0;
  if (x == 0) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
}

/* Q12.19 sum of exponentials -> Q0.31 reciprocal of its mantissa; *bits_over_unit gets the exponent. */
static int32_t reciprocal(int32_t sum, int* bits_over_unit) {
  const int headroom_plus_one = count_leading_zeros((uint32_t)sum);
  *bits_over_unit = 12 - headroom_plus_one;
  return one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom_plus_one) - 0x80000000u));
}

static inline int32_t scaled_difference(const mnd_softmax_params* p, int32_t diff) {
  return mnd_doubling_high_mul((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
}

void mnd_softmax_s8(const mnd_softmax_params* p, const int8_t* input, int8_t* output) {
  int32_t row, c;
  for (row = 0; row < p->rows; ++row) {
    const int8_t* in = input + row * p->depth;
    int8_t* out = output + row * p->depth;
    int32_t max = -128, sum = 0, scale;
    int bits_over_unit, exponent;
    for (c = 0; c < p->depth; ++c) max = in[c] > max ? in[c] : max;
    for (c = 0; c < p->depth; ++c) {
      const int32_t diff = in[c] - max;
      if (diff >= p->diff_min)
        sum += mnd_rounding_divide_by_pot(exp_on_negative_values(scaled_difference(p, diff)), 12);
    }
    scale = reciprocal(sum, &bits_over_unit);
    exponent = bits_over_unit + 31 - 8;
    for (c = 0; c < p->depth; ++c) {
      const int32_t diff = in[c] - max;
      int32_t value = -128;
      /* An exponent above 31 (over 256 near-maximal logits) aborts the reference kernel; the exact
       * quotient there is below one half, i.e. 0. */
      if (diff >= p->diff_min && exponent <= 31) {
        const int32_t e = exp_on_negative_values(scaled_difference(p, diff));
        value = mnd_clamp(mnd_rounding_divide_by_pot(mnd_doubling_high_mul(scale, e), exponent) - 128, -128, 127);
      }
      out[c] = (int8_t)value;
    }
  }
}
