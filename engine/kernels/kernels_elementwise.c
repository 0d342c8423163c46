/* int8 element-wise kernels (ADD, MUL with broadcasting; HARD_SWISH): TFLite reference integer arithmetic in
 * C99, bit-exact with LiteRT's reference kernels. See kernels.h. */
#include <string.h>

#include "kernels.h"

/* ---- ADD and MUL over a 4-D output with per-input element strides (0 along a broadcast axis) ---- */

/* reference_integer_ops::AddElementwise: both inputs shifted left by left_shift, brought to a common scale (each
 * multiplier < 1, so each shift <= 0), summed, then requantized to the output. */
static inline int8_t add_one(const mnd_elementwise_params* p, int32_t a, int32_t b) {
  const int32_t shifted1 = (int32_t)((uint32_t)(a + p->input1_offset) << p->left_shift);
  const int32_t shifted2 = (int32_t)((uint32_t)(b + p->input2_offset) << p->left_shift);
  const int32_t sum = mnd_requantize(shifted1, p->input1_multiplier, p->input1_shift) +
                      mnd_requantize(shifted2, p->input2_multiplier, p->input2_shift);
  return (int8_t)mnd_clamp(mnd_requantize(sum, p->output_multiplier, p->output_shift) + p->output_offset,
                           p->act_min, p->act_max);
}

/* reference_integer_ops::MulElementwise: the product of the offset inputs, requantized once. */
static inline int8_t mul_one(const mnd_elementwise_params* p, int32_t a, int32_t b) {
  const int32_t product = (a + p->input1_offset) * (b + p->input2_offset);
  return (int8_t)mnd_clamp(mnd_requantize(product, p->output_multiplier, p->output_shift) + p->output_offset,
                           p->act_min, p->act_max);
}

#define MND_ELEMENTWISE_LOOP(ONE)                                                                        \
  int32_t i0, i1, i2, i3;                                                                                \
  for (i0 = 0; i0 < p->shape[0]; ++i0)                                                                   \
    for (i1 = 0; i1 < p->shape[1]; ++i1)                                                                 \
      for (i2 = 0; i2 < p->shape[2]; ++i2) {                                                             \
        const int8_t* a = input1 + i0 * p->stride1[0] + i1 * p->stride1[1] + i2 * p->stride1[2];         \
        const int8_t* b = input2 + i0 * p->stride2[0] + i1 * p->stride2[1] + i2 * p->stride2[2];         \
        const int32_t sa = p->stride1[3], sb = p->stride2[3];                                            \
        for (i3 = 0; i3 < p->shape[3]; ++i3) *output++ = ONE(p, a[i3 * sa], b[i3 * sb]);                 \
      }

void mnd_add_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output) {
  MND_ELEMENTWISE_LOOP(add_one)
}

void mnd_mul_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output) {
  MND_ELEMENTWISE_LOOP(mul_one)
}

/* ---- HARD_SWISH: reference_ops::HardSwish in 16-bit fixed point ---- */

/* gemmlowp's SaturatingRoundingDoublingHighMul on int16: (a * b * 2 + 2^15 nudge) / 2^16, truncating. */
static inline int16_t rounding_high_mul16(int16_t a, int16_t b) {
  const int32_t product = (int32_t)a * (int32_t)b;
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  return (int16_t)((product + (product >= 0 ? (1 << 14) : 1 - (1 << 14))) / (1 << 15));
}

/* TFLite's SaturatingDoublingHighMul: the same without the rounding nudge (truncates toward zero). */
static inline int16_t high_mul16(int16_t a, int16_t b) {
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static inline int16_t saturating_left_shift16(int16_t value, int32_t amount) {
  return (int16_t)mnd_clamp((int32_t)value * (1 << amount), INT16_MIN, INT16_MAX);
}

static inline int8_t hard_swish_one(const mnd_hard_swish_params* p, int32_t x) {
  const int16_t hires = (int16_t)((x - p->input_zero_point) * (1 << 7));
  const int16_t preshift_output = rounding_high_mul16(hires, p->output_multiplier);
  int16_t reluish = hires;
  int32_t output;
  if (p->reluish_exponent > 0) reluish = saturating_left_shift16(reluish, p->reluish_exponent - 1);
  reluish = rounding_high_mul16(reluish, p->reluish_multiplier);
  if (p->reluish_exponent > 0) reluish = saturating_left_shift16(reluish, 1);
  if (p->reluish_exponent < 0) reluish = (int16_t)mnd_rounding_divide_by_pot(reluish, -p->reluish_exponent);
  reluish = (int16_t)((reluish + (1 << 15)) >> 1); /* [-1, 1] -> [0, 1] */
  output = mnd_rounding_divide_by_pot(high_mul16(reluish, preshift_output), -p->output_exponent);
  return (int8_t)mnd_clamp((int16_t)(output + p->output_zero_point), -128, 127); /* int16 sum, as TFLite's */
}

void mnd_hard_swish_table(const mnd_hard_swish_params* p, int8_t table[256]) {
  int32_t i;
  for (i = 0; i < 256; ++i) table[i] = hard_swish_one(p, i - 128);
}

/* Four values a word at a time: each byte of the word is looked up in place (the same byte positions in and out,
 * whatever the byte order); the XOR with 0x80 is the + 128 of every byte. */
static inline uint32_t input_word(const int8_t* p) {
  uint32_t word;
  memcpy(&word, p, 4);
  return word ^ 0x80808080u;
}

static inline void output_word(int8_t* p, uint32_t word) { memcpy(p, &word, 4); }

static inline uint32_t lookup4(const int8_t* table, uint32_t index) {
  return (uint32_t)(uint8_t)table[index & 0xffu] | (uint32_t)(uint8_t)table[(index >> 8) & 0xffu] << 8 |
         (uint32_t)(uint8_t)table[(index >> 16) & 0xffu] << 16 | (uint32_t)(uint8_t)table[index >> 24] << 24;
}

/* An int8 -> int8 function: from MND_HARD_SWISH_TABLE_MIN values on, the 256 possible results are computed once
 * into a table on the stack and looked up (about 90 instructions per value on a Cortex-M4 become a handful). */
void mnd_hard_swish_s8(const mnd_hard_swish_params* p, const int8_t* input, int8_t* output) {
  int8_t table[256];
  int32_t i;
  if (p->size < MND_HARD_SWISH_TABLE_MIN) {
    for (i = 0; i < p->size; ++i) output[i] = hard_swish_one(p, input[i]);
    return;
  }
  mnd_hard_swish_table(p, table);
  for (i = 0; i + 4 <= p->size; i += 4) output_word(output + i, lookup4(table, input_word(input + i)));
  for (; i < p->size; ++i) output[i] = table[input[i] + 128];
}
