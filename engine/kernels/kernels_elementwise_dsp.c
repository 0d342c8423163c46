/* int8 element-wise kernels for cores with the Armv7E-M / Armv8-M DSP extension: ADD and MUL with broadcasting.
 * Bit-exact with the portable ones in kernels_elementwise.c (same parameters, see kernels.h). */
#include "kernels.h"
#include "kernels_dsp.h"
#include "kernels_elementwise.h"

/* mnd_requantize(x, multiplier, shift) for shift <= 0 and |2x| < 2^31: SMMULR of 2x and the multiplier is
 * (2 x m + 2^31) >> 32, gemmlowp's rounding doubling high multiply; then the division by 2^right rounding half away
 * from zero, as (y + 2^(right - 1) - (y < 0)) >> right where right > 0 (y itself where right is 0). */
static inline int32_t requantize(int32_t x, const mnd_split_requant* r) {
  const int32_t y = smmulr(x * 2, r->multiplier);
  return (y + ((1 << r->right) >> 1) + ((y >> 31) & -r->round_fix)) >> r->right;
}

/* The same where right >= 1. */
static inline int32_t requantize_right(int32_t x, const mnd_split_requant* r) {
  const int32_t y = smmulr(x * 2, r->multiplier);
  return (y + ((1 << r->right) >> 1) + (y >> 31)) >> r->right;
}

/* ADD's sum of the rescaled inputs, MUL's product; both below 2^29 in magnitude (255 << 20 and 255 * 255). */
static inline __attribute__((always_inline)) int32_t combine(const mnd_elementwise_params* p,
                                                             const mnd_binary_requants* b, int32_t add, int32_t x,
                                                             int32_t y) {
  if (add)
    return requantize((int32_t)((uint32_t)(x + p->input1_offset) << p->left_shift), &b->in1) +
           requantize((int32_t)((uint32_t)(y + p->input2_offset) << p->left_shift), &b->in2);
  return (x + p->input1_offset) * (y + p->input2_offset);
}

static inline __attribute__((always_inline)) void binary_row(const mnd_elementwise_params* p,
                                                             const mnd_binary_requants* b, int32_t add,
                                                             const int8_t* x, int32_t stride_x, const int8_t* y,
                                                             int32_t stride_y, int8_t* out, int32_t count) {
  const int32_t offset = p->output_offset, low = p->act_min, high = p->act_max;
  int32_t i;
  for (i = 0; i < count; ++i) {
    const int32_t value = requantize_right(combine(p, b, add, x[i * stride_x], y[i * stride_y]), &b->out) + offset;
    out[i] = (int8_t)mnd_clamp(value, low, high);
  }
}

#define ADD_ROW(x, sx, y, sy, out, count) binary_row(&q, &b, 1, x, sx, y, sy, out, count)
#define MUL_ROW(x, sx, y, sy, out, count) binary_row(&q, &b, 0, x, sx, y, sy, out, count)

/* The inputs' shifts of ADD never exceed 0 (the generator refuses others); the output's must be below 0, or the
 * portable kernel runs (MUL with scales that do not shrink the product). */
void mnd_add_dsp_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output) {
  const mnd_elementwise_params q = *p; /* a local copy: the output's stores cannot alias it */
  const mnd_binary_requants b = mnd_binary_requants_of(p);
  if (p->input1_shift > 0 || p->input2_shift > 0 || p->output_shift >= 0) {
    mnd_add_s8(p, input1, input2, output);
    return;
  }
  MND_FOR_EACH_ROW(&q, input1, input2, output, ADD_ROW);
}

void mnd_mul_dsp_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output) {
  const mnd_elementwise_params q = *p; /* a local copy: the output's stores cannot alias it */
  const mnd_binary_requants b = mnd_binary_requants_of(p);
  if (p->output_shift >= 0) {
    mnd_mul_s8(p, input1, input2, output);
    return;
  }
  MND_FOR_EACH_ROW(&q, input1, input2, output, MUL_ROW);
}
