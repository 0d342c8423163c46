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

/* ---- 3x3, channels a multiple of 4: one output pixel at a time, all its channels four a vector ----
 * An assembly loop over the groups of four channels: each tap is a gather of the four channels from the window's
 * row pointer at the tap's column offset (q3-q5: 0, channels, 2 channels, plus 0..3), times the tap's four weights,
 * so that three row pointers serve the nine taps; then the group's requantization from its group_requant and one
 * store. Window rows that overlap the padding are read from patches in scratch (depthwise_small_mve_scratch's
 * four KxK patches hold the three rows and a row of zero points). */

typedef struct {
  const int8_t* rows[3];       /* 0: the window's rows, channel 0 of their first tap */
  const int8_t* weights;       /* 12 */
  const group_requant* table;  /* 16 */
  int8_t* out;                 /* 20: the pixel's output, channel 0 */
  int32_t groups;              /* 24 */
  int32_t zero_point, act_min, act_max; /* 28, 32, 36 */
  int32_t unused[2];
  uint32_t columns[3][4];      /* 48: kx * channels + 0..3 */
} lanes_pixel;

_Static_assert(__builtin_offsetof(lanes_pixel, groups) == 24 && __builtin_offsetof(lanes_pixel, columns) == 48 &&
                   sizeof(group_requant) == 80,
               "the lanes kernel's assembly reads lanes_pixel and group_requant at these offsets");

/* Software-pipelined: the multiply of one tap, the next tap's weight load, the add, the next tap's gather (loads
 * and arithmetic alternate, a beat overlap on the M55). */
#define LANES_TAP(NEXT_ROW, NEXT_COLUMN)                                                                             \
  "vmul.i32 q2, q2, q1\n\tvldrb.s32 q1, [r4], #4\n\tvadd.i32 q0, q0, q2\n\t"                                       \
  "vldrb.s32 q2, [" NEXT_ROW ", " NEXT_COLUMN "]\n\t"

#define LANES_SHIFT_LEFT "vldrw.u32 q1, [r6, #16]\n\tvshl.s32 q0, q0, q1\n\t"

/* Weights (layouts_mve.depthwise_small_mve): per group, [9 taps][4 channels], read in order. Registers: rows r1-r3,
 * weights r4, out r5 (the widening loads and the narrowing store take low registers), table r6, zero point r12. */
#define LANES_BODY(LEFT)                                                                                             \
  __asm__("push {r4-r11, lr}\n\t"                                                                                    \
          "vpush {d8-d15}\n\t"                                                                                       \
          "vldrw.u32 q3, [r0, #48]\n\tvldrw.u32 q4, [r0, #64]\n\tvldrw.u32 q5, [r0, #80]\n\t"                        \
          "ldr r1, [r0, #32]\n\tvdup.32 q6, r1\n\t"                                                                  \
          "ldr r1, [r0, #36]\n\tvdup.32 q7, r1\n\t"                                                                  \
          "ldr r12, [r0, #28]\n\tldr lr, [r0, #24]\n\t"                                                              \
          "ldrd r4, r6, [r0, #12]\n\tldr r5, [r0, #20]\n\t"                                                         \
          "ldr r3, [r0, #8]\n\tldr r2, [r0, #4]\n\tldr r1, [r0, #0]\n\t"                                             \
          "dls lr, lr\n"                                                                                             \
          "1:\n\t"                                                                                                   \
          "vldrw.u32 q0, [r6, #64]\n\tvldrb.s32 q1, [r4], #4\n\tvldrb.s32 q2, [r1, q3]\n\t"                         \
          LANES_TAP("r1", "q4") LANES_TAP("r1", "q5") LANES_TAP("r2", "q3") LANES_TAP("r2", "q4")                    \
          LANES_TAP("r2", "q5") LANES_TAP("r3", "q3") LANES_TAP("r3", "q4") LANES_TAP("r3", "q5")                    \
          "vmul.i32 q2, q2, q1\n\tvadd.i32 q0, q0, q2\n\t"                                                           \
          "adds r1, #4\n\tadds r2, #4\n\tadds r3, #4\n\t"                                                            \
          LEFT                                                                                                       \
          "vldrw.u32 q1, [r6, #0]\n\tvqrdmulh.s32 q0, q0, q1\n\t"                                                    \
          "vshr.s32 q2, q0, #31\n\tvldrw.u32 q1, [r6, #48]\n\tvand q2, q2, q1\n\tvadd.i32 q0, q0, q2\n\t"            \
          "vldrw.u32 q1, [r6, #32]\n\tvrshl.s32 q0, q0, q1\n\t"                                                      \
          "adds r6, #80\n\t"                                                                                         \
          "vadd.i32 q0, q0, r12\n\tvmax.s32 q0, q0, q6\n\tvmin.s32 q0, q0, q7\n\t"                                   \
          "vstrb.32 q0, [r5], #4\n\t"                                                                                \
          "le lr, 1b\n\t"                                                                                            \
          "vpop {d8-d15}\n\t"                                                                                        \
          "pop {r4-r11, pc}")

static __attribute__((naked, noinline)) void lanes_pixel_left(const lanes_pixel* a) { LANES_BODY(LANES_SHIFT_LEFT); }

static __attribute__((naked, noinline)) void lanes_pixel_plain(const lanes_pixel* a) { LANES_BODY(""); }

/* Whether any channel shifts left. */
static int any_shifts_left(const mnd_depthwise_params* p) {
  int32_t c;
  for (c = 0; c < p->out_c; ++c)
    if (p->shift[c] > 0) return 1;
  return 0;
}

/* The rows of a window that overlaps the padding: rows above or below the image, a row of zero points; rows that
 * overlap the side padding, patches filled tap by tap; other rows, the input itself. */
static __attribute__((noinline)) void border_rows(const mnd_depthwise_params* p, const int8_t* input, int32_t y0,
                                                  int32_t x0, const int8_t* padding_row, int8_t* patches,
                                                  int32_t patch_bytes, const int8_t* rows[3]) {
  const int32_t channels = p->in_c;
  int32_t ky, kx;
  for (ky = 0; ky < 3; ++ky) {
    const int32_t y = y0 + ky;
    int8_t* patch = patches + ky * patch_bytes;
    if (y < 0 || y >= p->in_h) {
      rows[ky] = padding_row;
    } else if (x0 >= 0 && x0 + 3 <= p->in_w) {
      rows[ky] = input + (y * p->in_w + x0) * channels;
    } else {
      for (kx = 0; kx < 3; ++kx) {
        const int32_t x = x0 + kx;
        if (x < 0 || x >= p->in_w)
          fill_bytes(patch + kx * channels, (int8_t)p->input_zero_point, channels);
        else
          copy_bytes(patch + kx * channels, input + (y * p->in_w + x) * channels, channels);
      }
      rows[ky] = patch;
    }
  }
}

static void depthwise3x3_lanes(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch) {
  const int32_t channels = p->in_c, groups = p->out_c / 4, patch_bytes = (3 * channels + 15) & ~15;
  const int32_t row_step = p->in_w * channels, column_step = p->stride_w * channels;
  group_requant* table = (group_requant*)scratch;
  int8_t* patches = (int8_t*)(table + groups); /* three patch rows, then the row of zero points */
  int8_t* padding_row = patches + 3 * patch_bytes;
  void (*const run)(const lanes_pixel*) = any_shifts_left(p) ? lanes_pixel_left : lanes_pixel_plain;
  lanes_pixel a;
  int32_t oy, ox, kx, i;
  fill_group_table(p->multiplier, p->shift, p->bias, p->out_c, table);
  fill_bytes(padding_row, (int8_t)p->input_zero_point, 3 * channels);
  a.weights = p->weights;
  a.table = table;
  a.groups = groups;
  a.zero_point = p->output_zero_point;
  a.act_min = p->act_min;
  a.act_max = p->act_max;
  a.out = output;
  for (kx = 0; kx < 3; ++kx)
    for (i = 0; i < 4; ++i) a.columns[kx][i] = (uint32_t)(kx * channels + i);
  for (oy = 0; oy < p->out_h; ++oy) {
    const int32_t y0 = oy * p->stride_h - p->pad_top, x_first = -p->pad_left;
    const int rows_inside = y0 >= 0 && y0 + 3 <= p->in_h;
    int32_t at = y0 * row_step + x_first * channels; /* the window's first tap, where it lies inside */
    for (ox = 0, i = x_first; ox < p->out_w; ++ox, i += p->stride_w, at += column_step, a.out += p->out_c) {
      if (rows_inside && i >= 0 && i + 3 <= p->in_w) {
        a.rows[0] = input + at;
        a.rows[1] = input + at + row_step;
        a.rows[2] = input + at + 2 * row_step;
      } else {
        border_rows(p, input, y0, i, padding_row, patches, patch_bytes, a.rows);
      }
      run(&a);
    }
  }
}

void mnd_depthwise3x3_small_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output,
                                   void* scratch) {
  if (p->out_c % 4 == 0)
    depthwise3x3_lanes(p, input, output, scratch);
  else
    depthwise_small(p, input, output, scratch, 3);
}

void mnd_depthwise5x5_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch) {
  depthwise_small(p, input, output, scratch, 5);
}

#endif
