/* int8 inference kernels for Cortex-M (portable C99, no heap, no floating point at run time).
 *
 * Every kernel follows TFLite's reference integer arithmetic, so that its output is bit-exact with LiteRT's
 * reference kernels and TFLite-Micro. Activations are NHWC int8; parameters come in const structs that the
 * ahead-of-time generator (targets/cortex_m/ops.py) fills from the .tflite model.
 *
 * Assumes two's complement and arithmetic right shift of negative values (true for GCC, Clang and Arm
 * compilers on every Cortex-M), as TFLite itself does.
 */
#ifndef MND_KERNELS_H_
#define MND_KERNELS_H_

#include <stdint.h>

/* (a * b * 2) >> 32 rounded as gemmlowp's SaturatingRoundingDoublingHighMul, for b != INT32_MIN. Its nudge
 * (2^30, or 1 - 2^30 below zero) followed by a division that truncates toward zero equals adding 2^30 and
 * flooring in both cases, i.e. an arithmetic shift. */
static inline int32_t mnd_doubling_high_mul_nosat(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* (a * b * 2) >> 32 with gemmlowp's rounding; saturates the one overflow case. */
static inline int32_t mnd_doubling_high_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  return mnd_doubling_high_mul_nosat(a, b);
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in 0..31. */
static inline int32_t mnd_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)((1u << exponent) - 1u);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31), rounded twice (high multiply,
 * then the right shift). The left shift wraps like TFLite's int32 multiply would. */
static inline int32_t mnd_requantize(int32_t x, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? (int)shift : 0;
  const int right = shift > 0 ? 0 : (int)-shift;
  return mnd_rounding_divide_by_pot(mnd_doubling_high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}

static inline int32_t mnd_clamp(int32_t x, int32_t low, int32_t high) {
  return x < low ? low : (x > high ? high : x);
}

/* CONV_2D. weights: OHWI [out_c][k_h][k_w][in_c]; multiplier/shift: per output channel, multiplier >= 0 (as
 * QuantizeMultiplier makes it). bias: out_c values with the input zero point folded in,
 * bias[c] - input_zero_point * sum(weights[c]) (see quant.fold_input_zero_point), or NULL for zeros; padding
 * reads as input_zero_point, so the fold holds at the borders. pad_top/pad_left: the padding before the first
 * row/column (SAME pads the extra one at the end). The DSP kernels also take constant_c channels whose output is
 * one value for every input (engine/constant_channels.py): then weights, bias, multiplier and shift cover the
 * other out_c - constant_c channels only, channel_index lists those channels' output indices and then the
 * constant ones', and constant_value their values (constant_c 0 and NULLs: none; the other kernels ignore them). */
typedef struct {
  int32_t in_h, in_w, in_c, out_h, out_w, out_c;
  int32_t k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
  int32_t input_zero_point, output_zero_point, act_min, act_max;
  const int8_t* weights;
  const int32_t* bias;
  const int32_t* multiplier;
  const int32_t* shift;
  int32_t constant_c;
  const uint16_t* channel_index;
  const int8_t* constant_value;
} mnd_conv_params;

/* DEPTHWISE_CONV_2D. weights: [out_c][k_h][k_w] (the TFLite [k_h][k_w][out_c] filter transposed so that a
 * channel's taps are contiguous) with out_c = in_c * depth_multiplier; output channel c * depth_multiplier + m
 * reads input channel c. bias: folded as for CONV_2D (over the k_h * k_w taps). Other fields as in
 * mnd_conv_params. */
typedef struct {
  int32_t in_h, in_w, in_c, out_h, out_w, out_c, depth_multiplier;
  int32_t k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
  int32_t input_zero_point, output_zero_point, act_min, act_max;
  const int8_t* weights;
  const int32_t* bias;
  const int32_t* multiplier;
  const int32_t* shift;
} mnd_depthwise_params;

/* AVERAGE_POOL_2D on raw int8 values (input and output share scale and zero point in TFLite). */
typedef struct {
  int32_t in_h, in_w, channels, out_h, out_w;
  int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left, act_min, act_max;
} mnd_pool_params;

/* MEAN over H and W of NHWC: one requantization of the zero-point-free sum, with 1/(in_h * in_w) folded into
 * multiplier/shift (TFLite's QuantizedMeanOrSum; LiteRT 2.3's reference kernel uses it for keep_dims too). */
typedef struct {
  int32_t in_h, in_w, channels;
  int32_t input_zero_point, output_zero_point, multiplier, shift;
} mnd_mean_params;

/* FULLY_CONNECTED: weights [units][depth]; per_channel selects multiplier/shift[unit] over [0]. Requantizes
 * with TFLite-Micro's double rounding. */
typedef struct {
  int32_t batches, depth, units, per_channel;
  int32_t input_zero_point, output_zero_point, act_min, act_max;
  const int8_t* weights;
  const int32_t* bias;
  const int32_t* multiplier;
  const int32_t* shift;
} mnd_fc_params;

/* SOFTMAX int8 -> int8 with output scale 1/256 and zero point -128, over the last axis of rows x depth. */
typedef struct {
  int32_t rows, depth, input_multiplier, input_left_shift, diff_min;
} mnd_softmax_params;

/* QUANTIZE int8 -> int8 (a change of scale and zero point). */
typedef struct {
  int32_t size, input_zero_point, output_zero_point, multiplier, shift;
} mnd_requantize_params;

/* ADD and MUL (kernels_elementwise.c) over a 4-D output shape; input k's element for output index (i0..i3) is
 * at sum(i_d * stride_k[d]), stride 0 along an axis it is broadcast on. Offsets are the negated input zero
 * points and the output zero point. ADD: each input (offset, shifted left by left_shift) is scaled by its
 * multiplier and shift (<= 0), the sum by the output's; MUL: the product of the offset inputs by the output's. */
typedef struct {
  int32_t shape[4], stride1[4], stride2[4];
  int32_t input1_offset, input2_offset, output_offset, act_min, act_max;
  int32_t left_shift, input1_multiplier, input1_shift, input2_multiplier, input2_shift;
  int32_t output_multiplier, output_shift;
} mnd_elementwise_params;

/* HARD_SWISH int8 in TFLite's 16-bit fixed point: multipliers are QuantizeMultiplier's rounded to 16 bits. From
 * MND_HARD_SWISH_TABLE_MIN values on, the kernel tabulates its 256 results first (256 bytes of stack). */
#define MND_HARD_SWISH_TABLE_MIN 320 /* the table costs about as much as 275 values computed directly */
typedef struct {
  int32_t size, input_zero_point, output_zero_point;
  int32_t output_multiplier, output_exponent, reluish_multiplier, reluish_exponent;
} mnd_hard_swish_params;

void mnd_conv2d_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output);
void mnd_depthwise_conv2d_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output);
void mnd_avg_pool_s8(const mnd_pool_params* p, const int8_t* input, int8_t* output);
void mnd_mean_hw_s8(const mnd_mean_params* p, const int8_t* input, int8_t* output);
void mnd_fully_connected_s8(const mnd_fc_params* p, const int8_t* input, int8_t* output);
void mnd_softmax_s8(const mnd_softmax_params* p, const int8_t* input, int8_t* output);
void mnd_requantize_s8(const mnd_requantize_params* p, const int8_t* input, int8_t* output);
void mnd_reshape_s8(int32_t size, const int8_t* input, int8_t* output);

void mnd_add_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output);
void mnd_mul_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output);
void mnd_hard_swish_s8(const mnd_hard_swish_params* p, const int8_t* input, int8_t* output);
/* table[x + 128] = HARD_SWISH(x) for every int8 x (the portable kernel's, shared with the optimized ones). */
void mnd_hard_swish_table(const mnd_hard_swish_params* p, int8_t table[256]);

/* ADD and MUL for the DSP extension (kernels_elementwise_dsp.c): one rounding multiply (SMMULR) per requantization
 * (where the output's shifts right, as ADD's always does; otherwise the portable kernels). */
void mnd_add_dsp_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output);
void mnd_mul_dsp_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output);

/* DSP-extension kernels (kernels_conv_dsp.c, kernels_depthwise_dsp.c), bit-exact with the two above on the shapes the generator gives them, with
 * weights rearranged ahead of time (engine/layouts.py) and `scratch`, 4-byte aligned, planned in the arena:
 *   mnd_pointwise_dsp_s8: 1x1, stride 1, no padding; scratch 24 * pairs + 16 * ceil(in_c / 4) bytes, pairs =
 *     out_c rounded up to even.
 *   mnd_conv_dsp_s8: any CONV_2D (an im2col of each window); scratch 24 * pairs + 24 * ceil(depth / 4) bytes,
 *     depth = k_h * k_w * in_c; weights laid out as for the pointwise kernel over that depth.
 *   mnd_depthwise3x3_dsp_s8: 3x3, depth multiplier 1, no dilation; scratch 96 * groups + 24 * groups * width
 *     bytes, groups = ceil(out_c / 4), width = (out_w - 1) * stride_w + 3; weights widened to int16. */
void mnd_pointwise_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
void mnd_conv_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
/* The same two with weights widened to int16 ahead of time (layouts.gemm_w16): twice the flash, a quarter fewer
 * instructions in the inner loop. */
void mnd_pointwise_w16_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
void mnd_conv_w16_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
/* mnd_pointwise_dsp_s8's weights widened at run time into the first 8 * even(out_c) * ceil(in_c / 4) bytes of scratch
 * (its own scratch after them): where the widening costs less than it saves and the arena has room. */
void mnd_pointwise_widen_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
/* mnd_pointwise_dsp_s8 and its w16 twin on a 1x1 image (out_h = out_w = 1), one pixel a pass, same weights and
 * scratch. */
void mnd_pointwise_pixel_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
void mnd_pointwise_pixel_w16_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
void mnd_depthwise3x3_dsp_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch);
/* The same for 5x5 windows: weights over 25 taps, scratch 96 * groups + 40 * groups * width bytes, width =
 * (out_w - 1) * stride_w + 5. */
void mnd_depthwise5x5_dsp_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch);

/* ---- MVE (Helium) kernels (kernels_*_mve.c), for cores with __ARM_FEATURE_MVE (Cortex-M55) ----
 * Bit-exact with the portable kernels on the shapes the generator gives them, with weights rearranged ahead of
 * time (engine/layouts_mve.py) and `scratch`, 16-byte aligned, planned in the arena:
 *   mnd_pointwise_mve_s8: 1x1, stride 1, no padding; OHWI weights then 16 zero bytes; scratch 20 * out_c bytes.
 *   mnd_conv_im2col_mve_s8: any CONV_2D; weights as above; scratch 20 * out_c + 4 * round_up(k_h * k_w * in_c, 16)
 *     + 16 bytes (each term rounded up to 16).
 *   mnd_depthwise3x3_mve_s8: 3x3, depth multiplier 1, no dilation, 7 * stride_w * in_c < 65536; weights
 *     [out_c][9]; scratch as layouts_mve.depthwise_mve_scratch (a padded plane of one channel and a row of sums).
 *   mnd_depthwise3x3_small_mve_s8: the same layers, for small images; per four channels [9 taps][4 channels]
 *     (zero-padded); scratch 80 * ceil(out_c / 4) + 4 * round_up(9 * in_c, 16) bytes.
 *   mnd_depthwise5x5_mve_s8: 5x5, depth multiplier 1, no dilation; weights as the small 3x3 kernel's over 25 taps;
 *     scratch 80 * ceil(out_c / 4) + 4 * round_up(25 * in_c, 16) bytes.
 *   mnd_avg_pool_mve_s8: any AVERAGE_POOL_2D, as mnd_avg_pool_s8. */
#if defined(__ARM_FEATURE_MVE)
void mnd_pointwise_mve_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
void mnd_conv_im2col_mve_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch);
void mnd_depthwise3x3_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch);
void mnd_depthwise3x3_small_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output,
                                   void* scratch);
void mnd_depthwise5x5_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch);
void mnd_avg_pool_mve_s8(const mnd_pool_params* p, const int8_t* input, int8_t* output);
/* kernels_elementwise_mve.c: ADD and MUL four values at a time (VQRDMULH), HARD_SWISH's table by VLDRB gathers. */
void mnd_add_mve_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output);
void mnd_mul_mve_s8(const mnd_elementwise_params* p, const int8_t* input1, const int8_t* input2, int8_t* output);
void mnd_hard_swish_mve_s8(const mnd_hard_swish_params* p, const int8_t* input, int8_t* output);
#endif

#endif
