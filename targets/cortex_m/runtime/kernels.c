/* int8 kernels: TFLite reference integer arithmetic in C99. See kernels.h. */
#include "kernels.h"

#include <string.h>

static inline int32_t requantize_output(int32_t acc, int32_t multiplier, int32_t shift, int32_t zero_point,
                                        int32_t act_min, int32_t act_max) {
  return mnd_clamp(mnd_requantize(acc, multiplier, shift) + zero_point, act_min, act_max);
}

/* ---- CONV_2D ---- */

/* 1x1, stride 1, no padding: a GEMM of [pixels][in_c] by [out_c][in_c]^T. */
static void conv_1x1(const mnd_conv_params* p, const int8_t* input, int8_t* output) {
  const int32_t pixels = p->out_h * p->out_w;
  const int32_t in_offset = -p->input_zero_point;
  int32_t pixel, oc, ic;
  for (pixel = 0; pixel < pixels; ++pixel) {
    const int8_t* row = input + pixel * p->in_c;
    for (oc = 0; oc < p->out_c; ++oc) {
      const int8_t* w = p->weights + oc * p->in_c;
      int32_t acc = p->bias ? p->bias[oc] : 0;
      for (ic = 0; ic < p->in_c; ++ic) acc += (row[ic] + in_offset) * w[ic];
      *output++ = (int8_t)requantize_output(acc, p->multiplier[oc], p->shift[oc], p->output_zero_point,
                                            p->act_min, p->act_max);
    }
  }
}

void mnd_conv2d_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output) {
  const int32_t in_offset = -p->input_zero_point;
  int32_t oy, ox, oc, ky, kx, ic;
  if (p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
      p->pad_left == 0 && p->in_h == p->out_h && p->in_w == p->out_w) {
    conv_1x1(p, input, output);
    return;
  }
  for (oy = 0; oy < p->out_h; ++oy) {
    const int32_t y0 = oy * p->stride_h - p->pad_top;
    for (ox = 0; ox < p->out_w; ++ox) {
      const int32_t x0 = ox * p->stride_w - p->pad_left;
      for (oc = 0; oc < p->out_c; ++oc) {
        const int8_t* filter = p->weights + oc * p->k_h * p->k_w * p->in_c;
        int32_t acc = 0;
        for (ky = 0; ky < p->k_h; ++ky) {
          const int32_t y = y0 + ky * p->dilation_h;
          if (y < 0 || y >= p->in_h) continue; /* padding contributes nothing (it equals the zero point) */
          for (kx = 0; kx < p->k_w; ++kx) {
            const int32_t x = x0 + kx * p->dilation_w;
            const int8_t* pixel;
            const int8_t* w;
            if (x < 0 || x >= p->in_w) continue;
            pixel = input + (y * p->in_w + x) * p->in_c;
            w = filter + (ky * p->k_w + kx) * p->in_c;
            for (ic = 0; ic < p->in_c; ++ic) acc += (pixel[ic] + in_offset) * w[ic];
          }
        }
        if (p->bias) acc += p->bias[oc];
        *output++ = (int8_t)requantize_output(acc, p->multiplier[oc], p->shift[oc], p->output_zero_point,
                                              p->act_min, p->act_max);
      }
    }
  }
}

/* ---- DEPTHWISE_CONV_2D ---- */

void mnd_depthwise_conv2d_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output) {
  const int32_t in_offset = -p->input_zero_point;
  int32_t oy, ox, ic, m, ky, kx;
  for (oy = 0; oy < p->out_h; ++oy) {
    const int32_t y0 = oy * p->stride_h - p->pad_top;
    for (ox = 0; ox < p->out_w; ++ox) {
      const int32_t x0 = ox * p->stride_w - p->pad_left;
      for (ic = 0; ic < p->in_c; ++ic) {
        for (m = 0; m < p->depth_multiplier; ++m) {
          const int32_t oc = ic * p->depth_multiplier + m;
          int32_t acc = 0;
          for (ky = 0; ky < p->k_h; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            if (y < 0 || y >= p->in_h) continue;
            for (kx = 0; kx < p->k_w; ++kx) {
              const int32_t x = x0 + kx * p->dilation_w;
              if (x < 0 || x >= p->in_w) continue;
              acc += (input[(y * p->in_w + x) * p->in_c + ic] + in_offset) *
                     p->weights[(ky * p->k_w + kx) * p->out_c + oc];
            }
          }
          if (p->bias) acc += p->bias[oc];
          output[(oy * p->out_w + ox) * p->out_c + oc] = (int8_t)requantize_output(
              acc, p->multiplier[oc], p->shift[oc], p->output_zero_point, p->act_min, p->act_max);
        }
      }
    }
  }
}

/* ---- AVERAGE_POOL_2D and MEAN ---- */

/* Integer division rounding half away from zero, as TFLite's pooling does. */
static inline int32_t divide_rounded(int32_t sum, int32_t count) {
  return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

void mnd_avg_pool_s8(const mnd_pool_params* p, const int8_t* input, int8_t* output) {
  int32_t oy, ox, c, y, x;
  for (oy = 0; oy < p->out_h; ++oy) {
    const int32_t y0 = oy * p->stride_h - p->pad_top;
    const int32_t y_start = y0 < 0 ? 0 : y0;
    const int32_t y_end = y0 + p->k_h < p->in_h ? y0 + p->k_h : p->in_h;
    for (ox = 0; ox < p->out_w; ++ox) {
      const int32_t x0 = ox * p->stride_w - p->pad_left;
      const int32_t x_start = x0 < 0 ? 0 : x0;
      const int32_t x_end = x0 + p->k_w < p->in_w ? x0 + p->k_w : p->in_w;
      const int32_t count = (y_end - y_start) * (x_end - x_start); /* only cells inside the image */
      for (c = 0; c < p->channels; ++c) {
        int32_t sum = 0;
        for (y = y_start; y < y_end; ++y)
          for (x = x_start; x < x_end; ++x) sum += input[(y * p->in_w + x) * p->channels + c];
        *output++ = (int8_t)(count > 0 ? mnd_clamp(divide_rounded(sum, count), p->act_min, p->act_max) : 0);
      }
    }
  }
}

void mnd_mean_hw_s8(const mnd_mean_params* p, const int8_t* input, int8_t* output) {
  const int32_t count = p->in_h * p->in_w;
  int32_t c, i;
  for (c = 0; c < p->channels; ++c) {
    int32_t sum = 0;
    for (i = 0; i < count; ++i) sum += input[i * p->channels + c];
    output[c] = (int8_t)requantize_output(sum - p->input_zero_point * count, p->multiplier, p->shift,
                                          p->output_zero_point, -128, 127);
  }
}

/* ---- FULLY_CONNECTED ---- */

void mnd_fully_connected_s8(const mnd_fc_params* p, const int8_t* input, int8_t* output) {
  const int32_t in_offset = -p->input_zero_point;
  int32_t b, u, d;
  for (b = 0; b < p->batches; ++b) {
    const int8_t* row = input + b * p->depth;
    for (u = 0; u < p->units; ++u) {
      const int8_t* w = p->weights + u * p->depth;
      const int32_t q = p->per_channel ? u : 0;
      int32_t acc = 0;
      for (d = 0; d < p->depth; ++d) acc += (row[d] + in_offset) * w[d];
      if (p->bias) acc += p->bias[u];
      *output++ = (int8_t)requantize_output(acc, p->multiplier[q], p->shift[q], p->output_zero_point,
                                            p->act_min, p->act_max);
    }
  }
}

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

/* ---- QUANTIZE (int8 -> int8) and RESHAPE ---- */

void mnd_requantize_s8(const mnd_requantize_params* p, const int8_t* input, int8_t* output) {
  int32_t i;
  for (i = 0; i < p->size; ++i)
    output[i] = (int8_t)requantize_output(input[i] - p->input_zero_point, p->multiplier, p->shift,
                                          p->output_zero_point, -128, 127);
}

void mnd_reshape_s8(int32_t size, const int8_t* input, int8_t* output) {
  if (input != output) memmove(output, input, (size_t)size);
}
