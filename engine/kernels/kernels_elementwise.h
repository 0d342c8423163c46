/* What the DSP and MVE ADD / MUL kernels share (kernels_elementwise_dsp.c, kernels_elementwise_mve.c): each
 * requantization's shift split in two, and the walk over the output's innermost rows. */
#ifndef MND_KERNELS_ELEMENTWISE_H_
#define MND_KERNELS_ELEMENTWISE_H_

#include "kernels.h"

/* x * multiplier * 2^(shift - 31) as mnd_requantize: left = max(shift, 0), right = max(-shift, 0), round_fix = 1
 * where right > 0 (the rounding division's correction below zero applies). */
typedef struct {
  int32_t multiplier, left, right, round_fix;
} mnd_split_requant;

static inline mnd_split_requant mnd_split_requant_of(int32_t multiplier, int32_t shift) {
  mnd_split_requant r;
  r.multiplier = multiplier;
  r.left = shift > 0 ? shift : 0;
  r.right = shift < 0 ? -shift : 0;
  r.round_fix = shift < 0;
  return r;
}

/* ADD's two input rescalings and every operator's output one. */
typedef struct {
  mnd_split_requant in1, in2, out;
} mnd_binary_requants;

static inline mnd_binary_requants mnd_binary_requants_of(const mnd_elementwise_params* p) {
  mnd_binary_requants b;
  b.in1 = mnd_split_requant_of(p->input1_multiplier, p->input1_shift);
  b.in2 = mnd_split_requant_of(p->input2_multiplier, p->input2_shift);
  b.out = mnd_split_requant_of(p->output_multiplier, p->output_shift);
  return b;
}

/* ROW(x, stride_x, y, stride_y, out, count) for every innermost row of p's output, with the innermost strides (0 or
 * 1) as literal constants, so that each of the four cases compiles to its own loop. */
#define MND_FOR_EACH_ROW(p, input1, input2, output, ROW)                                                       \
  do {                                                                                                         \
    const int32_t count_ = (p)->shape[3], s1_ = (p)->stride1[3], s2_ = (p)->stride2[3];                        \
    int8_t* out_ = (output);                                                                                   \
    int32_t i0_, i1_, i2_;                                                                                     \
    for (i0_ = 0; i0_ < (p)->shape[0]; ++i0_)                                                                  \
      for (i1_ = 0; i1_ < (p)->shape[1]; ++i1_)                                                                \
        for (i2_ = 0; i2_ < (p)->shape[2]; ++i2_, out_ += count_) {                                            \
          const int8_t* x_ = (input1) + i0_ * (p)->stride1[0] + i1_ * (p)->stride1[1] + i2_ * (p)->stride1[2]; \
          const int8_t* y_ = (input2) + i0_ * (p)->stride2[0] + i1_ * (p)->stride2[1] + i2_ * (p)->stride2[2]; \
          if (s1_ && s2_) ROW(x_, 1, y_, 1, out_, count_);                                                     \
          else if (s1_) ROW(x_, 1, y_, 0, out_, count_);                                                       \
          else if (s2_) ROW(x_, 0, y_, 1, out_, count_);                                                       \
          else ROW(x_, 0, y_, 0, out_, count_);                                                                \
        }                                                                                                      \
  } while (0)

#endif
