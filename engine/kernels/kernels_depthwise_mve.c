/* KxK DEPTHWISE_CONV_2D (3x3 on small images, 5x5), four channels a lane each, for Helium (Cortex-M55, M85),
 * bit-exact with kernels.c; weights from engine/layouts_mve.py. Without MVE this file compiles to nothing. */
#include "kernels.h"

#if defined(__ARM_FEATURE_MVE)
#include "kernels_mve_common.h"

/* ---- KxK depthwise (K = 3 or 5), depth multiplier 1: four output pixels x four channels (one lane each) ----
 * For 3x3 on small images: where rows are short, the per-channel costs of the plane outweigh its cheaper taps; for
 * 5x5 everywhere. Weights (layouts_mve.depthwise_small_mve): per group of four channels, [K * K taps][4 channels],
 * zero-padded to whole groups. A window that overlaps the padding is read from a KxK patch in scratch holding the
 * input zero point outside the image; blocks of fewer than four pixels compute the last one again. K is a constant
 * in each instance (the kernels inline everything below with it). */

/* channel_requant of four channels, one lane each; round_fix is -1 (a mask) where channel_requant has 1. */
typedef struct {
  int32x4_t multiplier, left, right, round_fix, bias;
} group_requant;

static void fill_group_table(const int32_t* multiplier, const int32_t* shift, const int32_t* bias, int32_t channels,
                             group_requant* table) {
  const int32x4_t zero = vdupq_n_s32(0);
  int32_t c;
  for (c = 0; c < channels; c += 4, ++table) {
    const mve_pred16_t lanes = vctp32q((uint32_t)(channels - c)); /* lanes past the channels: zeros, never stored */
    const int32x4_t s = vldrwq_z_s32(shift + c, lanes);
    table->multiplier = vldrwq_z_s32(multiplier + c, lanes);
    table->left = vmaxq_s32(s, zero);
    table->right = vminq_s32(s, zero);
    table->round_fix = vshrq_n_s32(s, 31);
    table->bias = bias ? vldrwq_z_s32(bias + c, lanes) : zero;
  }
}

static inline int32x4_t requantize_group(int32x4_t x, const group_requant* r, output_range out) {
  x = vshlq_s32(x, r->left);
  x = vqrdmulhq_s32(x, r->multiplier);
  x = vaddq_s32(x, vandq_s32(vshrq_n_s32(x, 31), r->round_fix));
  return clamp_output(vrshlq_s32(x, r->right), out);
}

#define MAX_TAPS_ROW 5

typedef struct {
  const int8_t* rows[MAX_TAPS_ROW]; /* the window's K rows; taps one channel count apart */
} window_rows;

static void fill_patch(const mnd_depthwise_params* p, const int8_t* input, int32_t y0, int32_t x0, int8_t* patch,
                       int32_t k) {
  const int32_t channels = p->in_c;
  int32_t ky, kx;
  for (ky = 0; ky < k; ++ky)
    for (kx = 0; kx < k; ++kx, patch += channels) {
      const int32_t y = y0 + ky, x = x0 + kx;
      if (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w)
        fill_bytes(patch, (int8_t)p->input_zero_point, channels);
      else
        copy_bytes(patch, input + (y * p->in_w + x) * channels, channels);
    }
}

static window_rows pixel_window(const mnd_depthwise_params* p, const int8_t* input, int32_t oy, int32_t ox,
                            int8_t* patch, int32_t k) {
  const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left, c = p->in_c;
  window_rows win;
  int32_t ky;
  if (y0 >= 0 && x0 >= 0 && y0 + k <= p->in_h && x0 + k <= p->in_w) {
    for (ky = 0; ky < k; ++ky) win.rows[ky] = input + ((y0 + ky) * p->in_w + x0) * c;
  } else {
    fill_patch(p, input, y0, x0, patch, k);
    for (ky = 0; ky < k; ++ky) win.rows[ky] = patch + k * ky * c;
  }
  return win;
}

typedef struct {
  int32x4_t p0, p1, p2, p3;
} four_sums;

/* Four channels (lanes past `lanes` read as zero where `tail`) of the input at `x`, widened to int32. */
static inline __attribute__((always_inline)) int32x4_t load_channels(const int8_t* x, mve_pred16_t lanes, int tail) {
  return tail ? vldrbq_z_s32(x, lanes) : vldrbq_s32(x);
}

/* One filter row (K taps along x) of four channels for the four pixels. */
static inline __attribute__((always_inline)) four_sums row_taps(four_sums s, const window_rows* win, int32_t ky,
                                                                 int32_t at, int32_t column, const int8_t* w,
                                                                 mve_pred16_t lanes, int tail, int32_t k) {
  const int8_t *x0 = win[0].rows[ky] + at, *x1 = win[1].rows[ky] + at;
  const int8_t *x2 = win[2].rows[ky] + at, *x3 = win[3].rows[ky] + at;
  int32_t kx;
#pragma GCC unroll 5
  for (kx = 0; kx < k; ++kx, w += 4, x0 += column, x1 += column, x2 += column, x3 += column) {
    const int32x4_t f = vldrbq_s32(w);
    s.p0 = vaddq_s32(s.p0, vmulq_s32(load_channels(x0, lanes, tail), f));
    s.p1 = vaddq_s32(s.p1, vmulq_s32(load_channels(x1, lanes, tail), f));
    s.p2 = vaddq_s32(s.p2, vmulq_s32(load_channels(x2, lanes, tail), f));
    s.p3 = vaddq_s32(s.p3, vmulq_s32(load_channels(x3, lanes, tail), f));
  }
  return s;
}

static inline __attribute__((always_inline)) void store_channels(int8_t* out, int32x4_t sums, const group_requant* r,
                                                                 output_range range, mve_pred16_t lanes, int tail) {
  const int32x4_t values = requantize_group(sums, r, range);
  if (tail)
    vstrbq_p_s32(out, values, lanes);
  else
    vstrbq_s32(out, values);
}

/* Channels c..c+3 (fewer where `tail`) of the block's `count` pixels. */
static inline __attribute__((always_inline)) void depthwise_group(const mnd_depthwise_params* p, const window_rows* win,
                                                                  int32_t count, const group_requant* r,
                                                                  int8_t* out, int32_t c, int tail, int32_t k) {
  const int32_t channels = p->out_c;
  const output_range range = {p->output_zero_point, p->act_min, p->act_max};
  const mve_pred16_t lanes = vctp32q((uint32_t)(channels - c));
  const int8_t* w = p->weights + k * k * c;
  four_sums s = {r->bias, r->bias, r->bias, r->bias};
  int32_t ky;
#pragma GCC unroll 1 /* rolled: unrolled, GCC hoists every tap's address of the four pixels out of the channel loop */
  for (ky = 0; ky < k; ++ky) s = row_taps(s, win, ky, c, p->in_c, w + 4 * k * ky, lanes, tail, k);
  out += c;
  store_channels(out, s.p0, r, range, lanes, tail);
  if (count > 1) store_channels(out + channels, s.p1, r, range, lanes, tail);
  if (count > 2) store_channels(out + 2 * channels, s.p2, r, range, lanes, tail);
  if (count > 3) store_channels(out + 3 * channels, s.p3, r, range, lanes, tail);
}

static inline __attribute__((always_inline)) void depthwise_block(const mnd_depthwise_params* p, const window_rows* win,
                                                                  int32_t count, const group_requant* table,
                                                                  int8_t* out, int32_t k) {
  const int32_t whole = p->out_c & ~3;
  int32_t c;
  for (c = 0; c < whole; c += 4, ++table) depthwise_group(p, win, count, table, out, c, 0, k);
  if (c < p->out_c) depthwise_group(p, win, count, table, out, c, 1, k);
}

static inline __attribute__((always_inline)) void depthwise_small(const mnd_depthwise_params* p, const int8_t* input,
                                                                  int8_t* output, void* scratch, int32_t k) {
  group_requant* table = (group_requant*)scratch;
  int8_t* patches = (int8_t*)(table + (p->out_c + 3) / 4);
  const int32_t patch_bytes = (k * k * p->in_c + 15) & ~15;
  int32_t oy, ox, i;
  fill_group_table(p->multiplier, p->shift, p->bias, p->out_c, table);
  for (oy = 0; oy < p->out_h; ++oy)
    for (ox = 0; ox < p->out_w; ox += 4) {
      const int32_t count = p->out_w - ox < 4 ? p->out_w - ox : 4;
      window_rows win[4];
      for (i = 0; i < 4; ++i)
        win[i] = i < count ? pixel_window(p, input, oy, ox + i, patches + i * patch_bytes, k) : win[count - 1];
      depthwise_block(p, win, count, table, output + (oy * p->out_w + ox) * p->out_c, k);
    }
}

void mnd_depthwise3x3_small_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output,
                                   void* scratch) {
  depthwise_small(p, input, output, scratch, 3);
}

void mnd_depthwise5x5_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch) {
  depthwise_small(p, input, output, scratch, 5);
}

#endif
