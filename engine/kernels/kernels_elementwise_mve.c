/* int8 element-wise kernels for cores with Helium (MVE, Cortex-M55): ADD and MUL with broadcasting, HARD_SWISH.
 * Bit-exact with the portable ones in kernels_elementwise.c (same parameters, see kernels.h). */
#include "kernels.h"
#include "kernels_elementwise.h"

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

/* ---- ADD and MUL: four values of the innermost axis per step, tail-predicated ----
 * VQRDMULH is gemmlowp's SaturatingRoundingDoublingHighMul exactly (saturating the one overflow case, as
 * mnd_doubling_high_mul); a rounding right shift by VRSHL rounds half up, so a negative value is first lowered by
 * one, which makes it round half away from zero as mnd_rounding_divide_by_pot (only where it shifts right). */

static inline __attribute__((always_inline)) int32x4_t requantize4(int32x4_t x, const mnd_split_requant* r) {
  x = vqrdmulhq_n_s32(vshlq_r_s32(x, r->left), r->multiplier);
  x = vmlaq_n_s32(x, vshrq_n_s32(x, 31), r->round_fix);
  return vrshlq_n_s32(x, -r->right);
}

/* Four values of one input: `stride` 0 repeats its one value (a broadcast axis), 1 reads them in order. */
static inline __attribute__((always_inline)) int32x4_t load4(const int8_t* x, int32_t stride, mve_pred16_t lanes) {
  return stride ? vldrbq_z_s32(x, lanes) : vdupq_n_s32(*x);
}

static inline __attribute__((always_inline)) int32x4_t combine4(const mnd_elementwise_params* p,
                                                                 const mnd_binary_requants* b, int32_t add,
                                                                 int32x4_t x, int32x4_t y) {
  int32x4_t result;
  x = vaddq_n_s32(x, p->input1_offset);
  y = vaddq_n_s32(y, p->input2_offset);
  if (add) {
    x = requantize4(vshlq_r_s32(x, p->left_shift), &b->in1);
    y = requantize4(vshlq_r_s32(y, p->left_shift), &b->in2);
    result = vaddq_s32(x, y);
  } else {
    result = vmulq_s32(x, y);
  }
  result = vaddq_n_s32(requantize4(result, &b->out), p->output_offset);
  return vminq_s32(vmaxq_s32(result, vdupq_n_s32(p->act_min)), vdupq_n_s32(p->act_max));
}

static inline __attribute__((always_inline)) void binary_row(const mnd_elementwise_params* p,
                                                             const mnd_binary_requants* b, int32_t add,
                                                             const int8_t* x, int32_t stride_x, const int8_t* y,
                                                             int32_t stride_y, int8_t* out, int32_t count) {
  int32_t i;
  for (i = 0; i < count; i += 4) {
    const mve_pred16_t lanes = vctp32q((uint32_t)(count - i));
    const int32x4_t result = combine4(p, b, add, load4(x + i * stride_x, stride_x, lanes),
                                      load4(y + i * stride_y, stride_y, lanes));
    vstrbq_p_s32(out + i, result, lanes);
  }
}

#define ADD_ROW(x, sx, y, sy, out, count) binary_row(&q, &b, 1, x, sx, y, sy, out, count)
#define MUL_ROW(x, sx, y, sy, out, count) binary_row(&q, &b, 0, x, sx, y, sy, out, count)

void mnd_add_mve_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output) {
  const mnd_elementwise_params q = *p; /* a local copy: the output's stores cannot alias it */
  const mnd_binary_requants b = mnd_binary_requants_of(p);
  MND_FOR_EACH_ROW(&q, input1, input2, output, ADD_ROW);
}

void mnd_mul_mve_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output) {
  const mnd_elementwise_params q = *p; /* a local copy: the output's stores cannot alias it */
  const mnd_binary_requants b = mnd_binary_requants_of(p);
  MND_FOR_EACH_ROW(&q, input1, input2, output, MUL_ROW);
}

/* ---- HARD_SWISH: the portable kernel's table of 256 results, then sixteen lookups per VLDRB gather ---- */
void mnd_hard_swish_mve_s8(const mnd_hard_swish_params* p, const int8_t* input, int8_t* output) {
  int8_t table[256];
  int32_t i;
  if (p->size < MND_HARD_SWISH_TABLE_MIN) {
    mnd_hard_swish_s8(p, input, output);
    return;
  }
  mnd_hard_swish_table(p, table);
  for (i = 0; i < p->size; i += 16) {
    const mve_pred16_t lanes = vctp8q((uint32_t)(p->size - i));
    const uint8x16_t index = veorq_u8(vreinterpretq_u8_s8(vldrbq_z_s8(input + i, lanes)), vdupq_n_u8(0x80));
    vstrbq_p_s8(output + i, vldrbq_gather_offset_z_s8(table, index, lanes), lanes);
  }
}
#endif
