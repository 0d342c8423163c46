/* int8 kernels for cores with the M-profile Vector Extension (Helium: Cortex-M55, M85), bit-exact with the
 * portable kernels in kernels.c. Weights come rearranged ahead of time (engine/layouts_mve.py) and each call gets
 * a scratch area planned in the arena, 16-byte aligned. See kernels.h. Without MVE this file compiles to nothing.
 *
 * Requantization runs on four int32 lanes as TFLite's MultiplyByQuantizedMultiplier: the left shift, VQRDMULH
 * (exactly gemmlowp's SaturatingRoundingDoublingHighMul), then VRSHL by the right shift. VRSHL rounds halves up;
 * TFLite rounds them away from zero, so a negative value first loses one where the shift is nonzero. That value is
 * never INT32_MIN: VQRDMULH with a multiplier below 2^31 cannot return it. */
#include "kernels.h"

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

/* One channel's requantization, from its multiplier and shift: left = max(shift, 0), right = min(shift, 0) (a
 * VRSHL amount), round_fix = 1 where right < 0; and its bias (0 without one). */
typedef struct {
  int32_t multiplier, left, right, round_fix, bias;
} channel_requant;

typedef struct {
  int32_t zero_point, act_min, act_max;
} output_range;

static channel_requant channel_requant_of(const int32_t* multiplier, const int32_t* shift, const int32_t* bias,
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

/* Four sums of one channel. */
static inline int32x4_t requantize_channel(int32x4_t x, const channel_requant* r, output_range out) {
  x = vshlq_r_s32(x, r->left);
  x = vqrdmulhq_n_s32(x, r->multiplier);
  x = vmlaq_n_s32(x, vshrq_n_s32(x, 31), r->round_fix);
  return clamp_output(vrshlq_n_s32(x, r->right), out);
}

/* ---- CONV_2D as a GEMM: four rows of `depth` int8 (pixels, or im2col rows) times one filter at a time ----
 * Weights (layouts_mve.gemm_mve): [out_c][depth] as TFLite stores them, then 16 zero bytes, so that a 16-byte load
 * from the last filter stays inside the array. Each 16 depth values cost one filter load, four row loads and four
 * VMLADAVA in a tail-predicated loop; the four sums of a channel are requantized together and scattered to the four
 * pixels' outputs. Up to 16 deep, the four rows stay in registers for every filter. */

typedef struct {
  const int8_t* rows[4];
  int8_t* out;      /* the first pixel's output */
  int32_t count;    /* pixels in this block, 1..4; rows past it repeat the last one */
} row_block;

/* The vector {a, b, c, d}. */
static inline int32x4_t lanes_of(int32_t a, int32_t b, int32_t c, int32_t d) {
  int32x4_t v;
  __asm__("vmov %q0[2], %q0[0], %1, %3\n\tvmov %q0[3], %q0[1], %2, %4" : "=&w"(v) : "r"(a), "r"(b), "r"(c), "r"(d));
  return v;
}

/* bias + the dot products of four rows with one filter, over `depth` >= 1 values. VMLADAVA accumulates in even
 * registers only ("Te"); DLSTP/LETP predicate the last iteration's lanes past `depth`. */
static inline int32x4_t dot_four_rows(const row_block* b, const int8_t* w, int32_t depth, int32_t bias) {
  const int8_t *r0 = b->rows[0], *r1 = b->rows[1], *r2 = b->rows[2], *r3 = b->rows[3];
  int32_t s0 = bias, s1 = bias, s2 = bias, s3 = bias;
  __asm__("dlstp.8 lr, %[n]\n"
          "1:\n\t"
          "vldrb.8 q0, [%[w]], #16\n\t"
          "vldrb.8 q1, [%[r0]], #16\n\t"
          "vmladava.s8 %[s0], q1, q0\n\t"
          "vldrb.8 q1, [%[r1]], #16\n\t"
          "vmladava.s8 %[s1], q1, q0\n\t"
          "vldrb.8 q1, [%[r2]], #16\n\t"
          "vmladava.s8 %[s2], q1, q0\n\t"
          "vldrb.8 q1, [%[r3]], #16\n\t"
          "vmladava.s8 %[s3], q1, q0\n\t"
          "letp lr, 1b"
          : [s0] "+Te"(s0), [s1] "+Te"(s1), [s2] "+Te"(s2), [s3] "+Te"(s3), [w] "+r"(w), [r0] "+r"(r0),
            [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3)
          : [n] "r"(depth)
          : "q0", "q1", "lr", "memory");
  return lanes_of(s0, s1, s2, s3);
}

/* Requantizes one channel's four sums and scatters them to the four pixels; `full`: all four are in the block (a
 * constant where inlined, so that full blocks store unpredicated). */
static inline __attribute__((always_inline)) void store_channel(int8_t* out, int32x4_t sums, const channel_requant* r,
                                                                output_range range, uint32x4_t offsets,
                                                                mve_pred16_t lanes, int full) {
  const int32x4_t values = requantize_channel(sums, r, range);
  if (full)
    vstrbq_scatter_offset_s32(out, offsets, values);
  else
    vstrbq_scatter_offset_p_s32(out, offsets, values, lanes);
}

static inline __attribute__((always_inline)) void gemm_block_short(const mnd_conv_params* p,
                                                                   const channel_requant* table, const row_block* b,
                                                                   int full) {
  const int32_t depth = p->k_h * p->k_w * p->in_c;
  const output_range range = {p->output_zero_point, p->act_min, p->act_max};
  const uint32x4_t offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)p->out_c);
  const mve_pred16_t lanes = vctp32q((uint32_t)b->count), k = vctp8q((uint32_t)depth);
  const int8x16_t x0 = vldrbq_z_s8(b->rows[0], k), x1 = vldrbq_z_s8(b->rows[1], k);
  const int8x16_t x2 = vldrbq_z_s8(b->rows[2], k), x3 = vldrbq_z_s8(b->rows[3], k);
  const channel_requant* const end = table + p->out_c;
  const int8_t* w = p->weights;
  int8_t* out = b->out;
  for (; table != end; ++table, ++out, w += depth) {
    const int8x16_t f = vldrbq_s8(w);
    const int32x4_t sums = lanes_of(vmladavq_s8(x0, f), vmladavq_s8(x1, f), vmladavq_s8(x2, f), vmladavq_s8(x3, f));
    store_channel(out, vaddq_n_s32(sums, table->bias), table, range, offsets, lanes, full);
  }
}

static inline __attribute__((always_inline)) void gemm_block_long(const mnd_conv_params* p,
                                                                  const channel_requant* table, const row_block* b,
                                                                  int full) {
  const int32_t depth = p->k_h * p->k_w * p->in_c;
  const output_range range = {p->output_zero_point, p->act_min, p->act_max};
  const uint32x4_t offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)p->out_c);
  const mve_pred16_t lanes = vctp32q((uint32_t)b->count);
  const channel_requant* const end = table + p->out_c;
  const int8_t* w = p->weights;
  int8_t* out = b->out;
  for (; table != end; ++table, ++out, w += depth)
    store_channel(out, dot_four_rows(b, w, depth, table->bias), table, range, offsets, lanes, full);
}

static void gemm_block(const mnd_conv_params* p, const channel_requant* table, const row_block* b) {
  const int short_depth = p->k_h * p->k_w * p->in_c <= 16;
  if (short_depth && b->count == 4)
    gemm_block_short(p, table, b, 1);
  else if (short_depth)
    gemm_block_short(p, table, b, 0);
  else if (b->count == 4)
    gemm_block_long(p, table, b, 1);
  else
    gemm_block_long(p, table, b, 0);
}

static void fill_requant_table(const mnd_conv_params* p, channel_requant* table) {
  int32_t c;
  for (c = 0; c < p->out_c; ++c) table[c] = channel_requant_of(p->multiplier, p->shift, p->bias, c);
}

void mnd_pointwise_mve_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  channel_requant* table = (channel_requant*)scratch;
  const int32_t pixels = p->out_h * p->out_w, in_c = p->in_c;
  int32_t pixel, i;
  fill_requant_table(p, table);
  for (pixel = 0; pixel < pixels; pixel += 4) {
    row_block b;
    b.count = pixels - pixel < 4 ? pixels - pixel : 4;
    b.out = output + pixel * p->out_c;
    for (i = 0; i < 4; ++i) b.rows[i] = input + (pixel + (i < b.count ? i : b.count - 1)) * in_c;
    gemm_block(p, table, &b);
  }
}

/* Copies n <= 16 bytes. */
static inline void copy_short(int8_t* dst, const int8_t* src, int32_t n) {
  const mve_pred16_t p = vctp8q((uint32_t)n);
  vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
}

static void copy_bytes(int8_t* dst, const int8_t* src, int32_t n) {
  for (; n > 16; n -= 16, dst += 16, src += 16) vstrbq_s8(dst, vldrbq_s8(src));
  copy_short(dst, src, n);
}

static void fill_bytes(int8_t* dst, int8_t value, int32_t n) {
  const int8x16_t v = vdupq_n_s8(value);
  for (; n > 16; n -= 16, dst += 16) vstrbq_s8(dst, v);
  vstrbq_p_s8(dst, v, vctp8q((uint32_t)n));
}

/* One im2col row: output pixel (oy, ox)'s window, [k_h][k_w][in_c], the input zero point outside the image. */
static void im2col_row(const mnd_conv_params* p, const int8_t* input, int32_t oy, int32_t ox, int8_t* row) {
  const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left, in_c = p->in_c;
  const int8_t zero_point = (int8_t)p->input_zero_point;
  int32_t ky, kx;
  for (ky = 0; ky < p->k_h; ++ky) {
    const int32_t y = y0 + ky * p->dilation_h;
    const int32_t span = p->k_w * in_c;
    int8_t* dst = row + ky * span;
    if (y < 0 || y >= p->in_h) {
      fill_bytes(dst, zero_point, span);
    } else if (p->dilation_w == 1 && x0 >= 0 && x0 + p->k_w <= p->in_w) {
      copy_bytes(dst, input + (y * p->in_w + x0) * in_c, span);
    } else {
      for (kx = 0; kx < p->k_w; ++kx, dst += in_c) {
        const int32_t x = x0 + kx * p->dilation_w;
        if (x < 0 || x >= p->in_w)
          fill_bytes(dst, zero_point, in_c);
        else
          copy_bytes(dst, input + (y * p->in_w + x) * in_c, in_c);
      }
    }
  }
}

void mnd_conv_im2col_mve_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  channel_requant* table = (channel_requant*)scratch;
  const int32_t depth = p->k_h * p->k_w * p->in_c, stride = (depth + 15) & ~15, pixels = p->out_h * p->out_w;
  int8_t* rows = (int8_t*)(table + p->out_c);
  int32_t pixel, i;
  fill_requant_table(p, table);
  for (pixel = 0; pixel < pixels; pixel += 4) {
    row_block b;
    b.count = pixels - pixel < 4 ? pixels - pixel : 4;
    b.out = output + pixel * p->out_c;
    for (i = 0; i < 4; ++i) {
      const int32_t at = pixel + (i < b.count ? i : b.count - 1);
      b.rows[i] = rows + i * stride;
      im2col_row(p, input, at / p->out_w, at % p->out_w, rows + i * stride);
    }
    gemm_block(p, table, &b);
  }
}

/* ---- 3x3 depthwise, depth multiplier 1: four output pixels x four channels (blocks of fewer pixels compute the
 * last one again) ----
 * Weights (layouts_mve.depthwise_mve): per group of four channels, [9 taps][4 channels], zero-padded to whole
 * groups. Each tap loads its four weights once for the four pixels. A window that overlaps the padding is read
 * from a 3x3 patch in scratch holding the input zero point outside the image. */

/* channel_requant for four channels, one lane each; round_fix is -1 (a mask) where channel_requant has 1. */
typedef struct {
  int32x4_t multiplier, left, right, round_fix, bias;
} group_requant;

static void fill_group_table(const mnd_depthwise_params* p, group_requant* table) {
  int32_t g, lane;
  for (g = 0; g < (p->out_c + 3) / 4; ++g)
    for (lane = 0; lane < 4; ++lane) {
      const int32_t c = 4 * g + lane < p->out_c ? 4 * g + lane : p->out_c - 1;
      const channel_requant r = channel_requant_of(p->multiplier, p->shift, p->bias, c);
      table[g].multiplier[lane] = r.multiplier;
      table[g].left[lane] = r.left;
      table[g].right[lane] = r.right;
      table[g].round_fix[lane] = -r.round_fix;
      table[g].bias[lane] = r.bias;
    }
}

static inline int32x4_t requantize_group(int32x4_t x, const group_requant* r, output_range out) {
  x = vshlq_s32(x, r->left);
  x = vqrdmulhq_s32(x, r->multiplier);
  x = vaddq_s32(x, vandq_s32(vshrq_n_s32(x, 31), r->round_fix));
  return clamp_output(vrshlq_s32(x, r->right), out);
}

typedef struct {
  const int8_t* rows[3]; /* the window's three rows; taps one channel count apart */
} window3;

static void fill_patch(const mnd_depthwise_params* p, const int8_t* input, int32_t y0, int32_t x0, int8_t* patch) {
  const int32_t channels = p->in_c;
  int32_t ky, kx;
  for (ky = 0; ky < 3; ++ky)
    for (kx = 0; kx < 3; ++kx, patch += channels) {
      const int32_t y = y0 + ky, x = x0 + kx;
      if (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w)
        fill_bytes(patch, (int8_t)p->input_zero_point, channels);
      else
        copy_bytes(patch, input + (y * p->in_w + x) * channels, channels);
    }
}

static window3 pixel_window(const mnd_depthwise_params* p, const int8_t* input, int32_t oy, int32_t ox,
                            int8_t* patch) {
  const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left, c = p->in_c;
  window3 win;
  int32_t ky;
  if (y0 >= 0 && x0 >= 0 && y0 + 3 <= p->in_h && x0 + 3 <= p->in_w) {
    for (ky = 0; ky < 3; ++ky) win.rows[ky] = input + ((y0 + ky) * p->in_w + x0) * c;
  } else {
    fill_patch(p, input, y0, x0, patch);
    for (ky = 0; ky < 3; ++ky) win.rows[ky] = patch + 3 * ky * c;
  }
  return win;
}

static inline int32x4_t load_widened(const int8_t* x, mve_pred16_t p) { return vldrbq_z_s32(x, p); }

static void depthwise_block(const mnd_depthwise_params* p, const window3* win, int32_t count,
                            const group_requant* table, int8_t* out) {
  const int32_t channels = p->out_c, column = p->in_c;
  const output_range range = {p->output_zero_point, p->act_min, p->act_max};
  const int8_t* w = p->weights;
  int32_t c, ky, kx, i;
  for (c = 0; c < channels; c += 4, w += 36, ++table) {
    const mve_pred16_t lanes = vctp32q((uint32_t)(channels - c));
    int32x4_t acc[4];
    for (i = 0; i < 4; ++i) acc[i] = table->bias;
    for (ky = 0; ky < 3; ++ky)
      for (kx = 0; kx < 3; ++kx) {
        const int32x4_t f = vldrbq_s32(w + 4 * (3 * ky + kx));
        const int32_t at = kx * column + c;
        for (i = 0; i < 4; ++i) acc[i] = vaddq_s32(acc[i], vmulq_s32(load_widened(win[i].rows[ky] + at, lanes), f));
      }
    for (i = 0; i < count; ++i) vstrbq_p_s32(out + i * channels + c, requantize_group(acc[i], table, range), lanes);
  }
}

void mnd_depthwise3x3_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch) {
  group_requant* table = (group_requant*)scratch;
  int8_t* patches = (int8_t*)(table + (p->out_c + 3) / 4);
  const int32_t patch_bytes = (9 * p->in_c + 15) & ~15;
  int32_t oy, ox, i;
  fill_group_table(p, table);
  for (oy = 0; oy < p->out_h; ++oy)
    for (ox = 0; ox < p->out_w; ox += 4) {
      const int32_t count = p->out_w - ox < 4 ? p->out_w - ox : 4;
      window3 win[4];
      for (i = 0; i < 4; ++i)
        win[i] = i < count ? pixel_window(p, input, oy, ox + i, patches + i * patch_bytes) : win[count - 1];
      depthwise_block(p, win, count, table, output + (oy * p->out_w + ox) * p->out_c);
    }
}

#endif
