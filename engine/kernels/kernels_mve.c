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

/* Four sums of one channel; `left`: whether the channel may shift left (a constant where inlined: most layers
 * have no left shift anywhere and skip the VSHL). */
static inline __attribute__((always_inline)) int32x4_t requantize_channel(int32x4_t x, const channel_requant* r,
                                                                          output_range out, int left) {
  if (left) x = vshlq_r_s32(x, r->left);
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
                                                                mve_pred16_t lanes, int full, int left) {
  const int32x4_t values = requantize_channel(sums, r, range, left);
  if (full)
    vstrbq_scatter_offset_s32(out, offsets, values);
  else
    vstrbq_scatter_offset_p_s32(out, offsets, values, lanes);
}

static inline __attribute__((always_inline)) void gemm_block_short(const mnd_conv_params* p,
                                                                   const channel_requant* table, const row_block* b,
                                                                   int full, int left) {
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
    store_channel(out, vaddq_n_s32(sums, table->bias), table, range, offsets, lanes, full, left);
  }
}

static inline __attribute__((always_inline)) void gemm_block_long(const mnd_conv_params* p,
                                                                  const channel_requant* table, const row_block* b,
                                                                  int full, int left) {
  const int32_t depth = p->k_h * p->k_w * p->in_c;
  const output_range range = {p->output_zero_point, p->act_min, p->act_max};
  const uint32x4_t offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)p->out_c);
  const mve_pred16_t lanes = vctp32q((uint32_t)b->count);
  const channel_requant* const end = table + p->out_c;
  const int8_t* w = p->weights;
  int8_t* out = b->out;
  for (; table != end; ++table, ++out, w += depth)
    store_channel(out, dot_four_rows(b, w, depth, table->bias), table, range, offsets, lanes, full, left);
}

/* One variant per depth class, whole or partial block, and left shifts or none. */
static void gemm_block(const mnd_conv_params* p, const channel_requant* table, const row_block* b, int left) {
  const int short_depth = p->k_h * p->k_w * p->in_c <= 16, full = b->count == 4;
  if (short_depth) {
    if (full && left) gemm_block_short(p, table, b, 1, 1);
    if (full && !left) gemm_block_short(p, table, b, 1, 0);
    if (!full && left) gemm_block_short(p, table, b, 0, 1);
    if (!full && !left) gemm_block_short(p, table, b, 0, 0);
    return;
  }
  if (full && left) gemm_block_long(p, table, b, 1, 1);
  if (full && !left) gemm_block_long(p, table, b, 1, 0);
  if (!full && left) gemm_block_long(p, table, b, 0, 1);
  if (!full && !left) gemm_block_long(p, table, b, 0, 0);
}

/* Fills the table (as channel_requant_of, four channels at a time, each field scattered to its place in the four
 * records); returns whether any channel shifts left. */
static int fill_requant_table(const mnd_conv_params* p, channel_requant* table) {
  const uint32x4_t records = vmulq_n_u32(vidupq_n_u32(0, 1), sizeof(channel_requant));
  const int32x4_t zero = vdupq_n_s32(0);
  int32x4_t any_left = zero;
  int32_t c;
  for (c = 0; c < p->out_c; c += 4, table += 4) {
    const mve_pred16_t lanes = vctp32q((uint32_t)(p->out_c - c));
    const int32x4_t shift = vldrwq_z_s32(p->shift + c, lanes), left = vmaxq_s32(shift, zero);
    const int32x4_t bias = p->bias ? vldrwq_z_s32(p->bias + c, lanes) : zero;
    int32_t* base = (int32_t*)(void*)table;
    vstrwq_scatter_offset_p_s32(base, records, vldrwq_z_s32(p->multiplier + c, lanes), lanes);
    vstrwq_scatter_offset_p_s32(base + 1, records, left, lanes);
    vstrwq_scatter_offset_p_s32(base + 2, records, vminq_s32(shift, zero), lanes);
    vstrwq_scatter_offset_p_s32(base + 3, records, vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(shift), 31)),
                                lanes);
    vstrwq_scatter_offset_p_s32(base + 4, records, bias, lanes);
    any_left = vorrq_s32(any_left, left);
  }
  return vmaxvq_s32(0, any_left) != 0;
}

void mnd_pointwise_mve_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  channel_requant* table = (channel_requant*)scratch;
  const int32_t pixels = p->out_h * p->out_w, in_c = p->in_c;
  int32_t pixel, i;
  const int left = fill_requant_table(p, table);
  for (pixel = 0; pixel < pixels; pixel += 4) {
    row_block b;
    b.count = pixels - pixel < 4 ? pixels - pixel : 4;
    b.out = output + pixel * p->out_c;
    for (i = 0; i < 4; ++i) b.rows[i] = input + (pixel + (i < b.count ? i : b.count - 1)) * in_c;
    gemm_block(p, table, &b, left);
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

/* Whether output pixel (oy, ox)'s window lies inside the image, its rows of at most 16 bytes, and a 16-byte load
 * from its last row stays inside the input: then each row is one unpredicated vector copy. */
static inline int window_copies_whole(const mnd_conv_params* p, int32_t y0, int32_t x0) {
  const int32_t span = p->k_w * p->in_c, last_y = y0 + (p->k_h - 1) * p->dilation_h;
  return p->dilation_w == 1 && span <= 16 && y0 >= 0 && x0 >= 0 && last_y < p->in_h && x0 + p->k_w <= p->in_w &&
         (last_y * p->in_w + x0) * p->in_c + 16 <= p->in_h * p->in_w * p->in_c;
}

/* One im2col row: output pixel (oy, ox)'s window, [k_h][k_w][in_c], the input zero point outside the image. It may
 * write up to 16 bytes past the row (the scratch has room; a later row overwrites them). */
static void im2col_row(const mnd_conv_params* p, const int8_t* input, int32_t oy, int32_t ox, int8_t* row) {
  const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left, in_c = p->in_c;
  const int8_t zero_point = (int8_t)p->input_zero_point;
  int32_t ky, kx;
  if (window_copies_whole(p, y0, x0)) {
    const int32_t span = p->k_w * in_c, step = p->dilation_h * p->in_w * in_c;
    const int8_t* src = input + (y0 * p->in_w + x0) * in_c;
    for (ky = 0; ky < p->k_h; ++ky, src += step, row += span) vstrbq_s8(row, vldrbq_s8(src));
    return;
  }
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

/* Four outputs of one row whose windows all copy whole (window_copies_whole holds for the first and the last): each
 * window row of each pixel is one vector copy, with no per-pixel checks. Returns 0, doing nothing, otherwise. */
static int im2col_four(const mnd_conv_params* p, const int8_t* input, int32_t oy, int32_t ox, int8_t* rows,
                       int32_t stride) {
  const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
  const int32_t span = p->k_w * p->in_c, step = p->dilation_h * p->in_w * p->in_c, next = p->stride_w * p->in_c;
  const int8_t* src = input + (y0 * p->in_w + x0) * p->in_c;
  int32_t i, ky;
  if (ox + 4 > p->out_w || !window_copies_whole(p, y0, x0) || !window_copies_whole(p, y0, x0 + 3 * p->stride_w))
    return 0;
  /* pixel by pixel: a row's copies spill up to 16 bytes into the next row, written after them */
  for (i = 0; i < 4; ++i, src += next, rows += stride)
    for (ky = 0; ky < p->k_h; ++ky) vstrbq_s8(rows + ky * span, vldrbq_s8(src + ky * step));
  return 1;
}

void mnd_conv_im2col_mve_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  channel_requant* table = (channel_requant*)scratch;
  const int32_t depth = p->k_h * p->k_w * p->in_c, stride = (depth + 15) & ~15, pixels = p->out_h * p->out_w;
  int8_t* rows = (int8_t*)(table + p->out_c);
  int32_t pixel, i, oy = 0, ox = 0;
  const int left = fill_requant_table(p, table);
  for (pixel = 0; pixel < pixels; pixel += 4) {
    row_block b;
    b.count = pixels - pixel < 4 ? pixels - pixel : 4;
    b.out = output + pixel * p->out_c;
    for (i = 0; i < 4; ++i) b.rows[i] = rows + (i < b.count ? i : b.count - 1) * stride;
    if (b.count == 4 && im2col_four(p, input, oy, ox, rows, stride)) {
      ox += 4;
      if (ox == p->out_w) ox = 0, ++oy;
    } else {
      for (i = 0; i < b.count; ++i) {
        im2col_row(p, input, oy, ox, rows + i * stride);
        if (++ox == p->out_w) ox = 0, ++oy;
      }
    }
    gemm_block(p, table, &b, left);
  }
}

/* ---- 3x3 depthwise, depth multiplier 1: one channel at a time, on a plane ----
 * The channel is gathered into a plane in scratch, padded with the input zero point and split by the strides into
 * stride_h x stride_w sub-planes: sub-plane (a, b) row u, column v holds input row u * stride_h + a - pad_top,
 * column v * stride_w + b - pad_left. Every tap of output (oy, ox) then sits at a fixed offset from
 * oy * pitch + ox in one of them, so a run of outputs, the rows' `pitch - out_w` spare columns included, is one
 * flat loop where VMLA by a scalar weight adds one tap to four outputs. The sums of a band of rows go to an int32
 * buffer, are requantized with the channel's parameters and scattered to NHWC. Weights: [channels][9 taps]. */

#define BAND_SUMS 128 /* sums per band, at least: a band is max(1, BAND_SUMS / pitch) rows */

typedef struct {
  int32_t rows, pitch; /* of one sub-plane */
  int32_t band;        /* output rows per band */
  int32_t taps[9];     /* each tap's offset in the plane from its output's oy * pitch + ox */
} plane_shape;

static plane_shape plane_shape_of(const mnd_depthwise_params* p) {
  const int32_t sh = p->stride_h, sw = p->stride_w;
  plane_shape s;
  int32_t k;
  s.rows = p->out_h + 2 / sh;
  s.pitch = p->out_w + 2 / sw;
  s.band = BAND_SUMS / s.pitch > 1 ? BAND_SUMS / s.pitch : 1;
  s.band = s.band < p->out_h ? s.band : p->out_h;
  for (k = 0; k < 9; ++k) {
    const int32_t ky = k / 3, kx = k % 3;
    s.taps[k] = ((ky % sh) * sw + kx % sw) * s.rows * s.pitch + (ky / sh) * s.pitch + kx / sw;
  }
  return s;
}

/* Copies `count` bytes `step` apart to dst, eight at a time. */
static inline void gather_span(const int8_t* src, int8_t* dst, int32_t count, int32_t step, uint16x8_t offsets) {
  for (; count > 0; count -= 8, dst += 8, src += 8 * step) {
    const mve_pred16_t lanes = vctp16q((uint32_t)count);
    vstrbq_p_s16(dst, vldrbq_gather_offset_z_s16(src, offsets, lanes), lanes);
  }
}

/* The first index >= 0 of a phase (stride, offset) whose position index * stride + offset is >= 0, and the end of
 * those below `size`, at most `limit`. */
static inline int32_t phase_first(int32_t stride, int32_t offset) {
  return offset < 0 ? (-offset + stride - 1) / stride : 0;
}

static inline int32_t phase_end(int32_t stride, int32_t offset, int32_t size, int32_t limit) {
  const int32_t end = (size - offset + stride - 1) / stride;
  return end < limit ? end : limit;
}

/* Channel c of the input into the plane's inside (the padding keeps its zero points). */
static void gather_channel(const mnd_depthwise_params* p, const int8_t* input, int32_t c, const plane_shape* s,
                           int8_t* plane) {
  const int32_t sh = p->stride_h, sw = p->stride_w, step = sw * p->in_c, row_step = sh * p->in_w * p->in_c;
  const uint16x8_t offsets = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)step);
  int32_t a, b, u;
  for (a = 0; a < sh; ++a) {
    const int32_t u0 = phase_first(sh, a - p->pad_top), u1 = phase_end(sh, a - p->pad_top, p->in_h, s->rows);
    for (b = 0; b < sw; ++b, plane += s->rows * s->pitch) {
      const int32_t v0 = phase_first(sw, b - p->pad_left), v1 = phase_end(sw, b - p->pad_left, p->in_w, s->pitch);
      const int8_t* src = input + ((u0 * sh + a - p->pad_top) * p->in_w + v0 * sw + b - p->pad_left) * p->in_c + c;
      int8_t* dst = plane + u0 * s->pitch + v0;
      for (u = u0; u < u1; ++u, src += row_step, dst += s->pitch) gather_span(src, dst, v1 - v0, step, offsets);
    }
  }
}

/* Many channels on a small image: a table of each input pixel's place in the plane (row-major; pixels the plane
 * does not hold go to `trash`, a spare byte past it) turns a channel's copy into eight-pixel gathers and scatters. */
static inline int table_gather_pays(const mnd_depthwise_params* p) { return p->in_c >= 2 * p->in_w; }

static void fill_scatter_table(const mnd_depthwise_params* p, const plane_shape* s, int32_t trash, uint16_t* table) {
  const int32_t sh = p->stride_h, sw = p->stride_w;
  int32_t y, x;
  for (y = 0; y < p->in_h; ++y) {
    const int32_t a = (y + p->pad_top) % sh, u = (y + p->pad_top) / sh;
    for (x = 0; x < p->in_w; ++x) {
      const int32_t b = (x + p->pad_left) % sw, v = (x + p->pad_left) / sw;
      *table++ = (uint16_t)(u < s->rows && v < s->pitch ? ((a * sw + b) * s->rows + u) * s->pitch + v : trash);
    }
  }
}

static void scatter_channel(const mnd_depthwise_params* p, const int8_t* input, int32_t c, const uint16_t* table,
                            int8_t* plane) {
  const uint16x8_t offsets = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)p->in_c);
  const int32_t step = 8 * p->in_c;
  int32_t left = p->in_h * p->in_w;
  input += c;
  for (; left >= 8; left -= 8, input += step, table += 8)
    vstrbq_scatter_offset_s16(plane, vldrhq_u16(table), vldrbq_gather_offset_s16(input, offsets));
  if (left > 0) {
    const mve_pred16_t lanes = vctp16q((uint32_t)left);
    vstrbq_scatter_offset_p_s16(plane, vldrhq_z_u16(table, lanes), vldrbq_gather_offset_z_s16(input, offsets, lanes),
                                lanes);
  }
}

/* sums[0..4 * blocks) = bias + the nine taps (at taps[k] + i) of each flat output i. */
static void channel_sums(const int8_t* const taps[9], const int8_t* w, int32_t bias, int32_t blocks, int32_t* sums) {
  const int8_t *t0 = taps[0], *t1 = taps[1], *t2 = taps[2], *t3 = taps[3], *t4 = taps[4], *t5 = taps[5];
  const int8_t *t6 = taps[6], *t7 = taps[7], *t8 = taps[8];
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  const int32x4_t start = vdupq_n_s32(bias);
  int32_t b;
  for (b = 0; b < blocks; ++b, sums += 4) {
    int32x4_t acc = vmlaq_n_s32(start, vldrbq_s32(t0), w0);
    acc = vmlaq_n_s32(acc, vldrbq_s32(t1), w1);
    acc = vmlaq_n_s32(acc, vldrbq_s32(t2), w2);
    acc = vmlaq_n_s32(acc, vldrbq_s32(t3), w3);
    acc = vmlaq_n_s32(acc, vldrbq_s32(t4), w4);
    acc = vmlaq_n_s32(acc, vldrbq_s32(t5), w5);
    acc = vmlaq_n_s32(acc, vldrbq_s32(t6), w6);
    acc = vmlaq_n_s32(acc, vldrbq_s32(t7), w7);
    acc = vmlaq_n_s32(acc, vldrbq_s32(t8), w8);
    vstrwq_s32(sums, acc);
    t0 += 4, t1 += 4, t2 += 4, t3 += 4, t4 += 4, t5 += 4, t6 += 4, t7 += 4, t8 += 4;
  }
}

/* channel_sums where the taps of a filter row are consecutive bytes (stride_w 1): the nine weights stay in
 * registers, the row's three taps are one pointer and two immediate offsets. rows: the taps (ky, 0); blocks >= 1. */
/* Not inlined: the loop needs all thirteen low registers and lr. */
static __attribute__((noinline)) void channel_sums_unit(const int8_t* r0, const int8_t* r1, const int8_t* r2,
                                                        const int8_t* w, int32_t bias, int32_t blocks, int32_t* sums) {
  const int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  const int32x4_t start = vdupq_n_s32(bias);
  register int32_t count __asm__("lr") = blocks;
  __asm__ volatile("dls lr, lr\n"
          "1:\n\t"
          "vmov q0, %q[start]\n\t"
          "vldrb.s32 q1, [%[r0], #1]\n\t"
          "vmla.s32 q0, q1, %[w1]\n\t"
          "vldrb.s32 q1, [%[r0], #2]\n\t"
          "vmla.s32 q0, q1, %[w2]\n\t"
          "vldrb.s32 q1, [%[r0]], #4\n\t"
          "vmla.s32 q0, q1, %[w0]\n\t"
          "vldrb.s32 q1, [%[r1], #1]\n\t"
          "vmla.s32 q0, q1, %[w4]\n\t"
          "vldrb.s32 q1, [%[r1], #2]\n\t"
          "vmla.s32 q0, q1, %[w5]\n\t"
          "vldrb.s32 q1, [%[r1]], #4\n\t"
          "vmla.s32 q0, q1, %[w3]\n\t"
          "vldrb.s32 q1, [%[r2], #1]\n\t"
          "vmla.s32 q0, q1, %[w7]\n\t"
          "vldrb.s32 q1, [%[r2], #2]\n\t"
          "vmla.s32 q0, q1, %[w8]\n\t"
          "vldrb.s32 q1, [%[r2]], #4\n\t"
          "vmla.s32 q0, q1, %[w6]\n\t"
          "vstrw.32 q0, [%[sums]], #16\n\t"
          "le lr, 1b"
          : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [sums] "+r"(sums), "+r"(count)
          : [start] "w"(start), [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [w3] "r"(w3), [w4] "r"(w4),
            [w5] "r"(w5), [w6] "r"(w6), [w7] "r"(w7), [w8] "r"(w8)
          : "q0", "q1", "memory");
}

/* One output row's `count` sums requantized to out, out + channels, ... (offsets: 0, 1, 2, 3 channels). */
static void requantize_row(const int32_t* sums, int32_t count, const channel_requant* r, output_range range,
                           int8_t* out, uint32x4_t offsets, int32_t block_step, int left) {
  for (; count >= 4; count -= 4, sums += 4, out += block_step)
    vstrbq_scatter_offset_s32(out, offsets, requantize_channel(vldrwq_s32(sums), r, range, left));
  if (count > 0)
    vstrbq_scatter_offset_p_s32(out, offsets, requantize_channel(vldrwq_s32(sums), r, range, left),
                                vctp32q((uint32_t)count));
}

/* Where each flat output of a whole band goes, four at a time: offsets from the band's first output (channel 0)
 * and the predicate of the lanes that are outputs rather than spare columns. */
typedef struct {
  uint32_t offsets[4];
  uint32_t lanes;
} band_block;

static inline int32_t band_blocks(const plane_shape* s) { return (s->band * s->pitch + 3) / 4; }

/* Short rows: the table's predicated stores beat a loop per row. */
static inline int band_table_pays(const mnd_depthwise_params* p) { return p->out_w < 16; }

static void fill_band_table(const mnd_depthwise_params* p, const plane_shape* s, band_block* table) {
  int32_t block, lane;
  for (block = 0; block < band_blocks(s); ++block, ++table) {
    table->lanes = 0;
    for (lane = 0; lane < 4; ++lane) {
      const int32_t i = 4 * block + lane, row = i / s->pitch, column = i % s->pitch;
      const int valid = row < s->band && column < p->out_w;
      table->offsets[lane] = valid ? (uint32_t)((row * p->out_w + column) * p->out_c) : 0;
      table->lanes |= valid ? 0xfu << (4 * lane) : 0;
    }
  }
}

static void requantize_band(const int32_t* sums, const band_block* table, int32_t blocks, const channel_requant* r,
                            output_range range, int8_t* out, int left) {
  for (; blocks > 0; --blocks, sums += 4, ++table)
    vstrbq_scatter_offset_p_s32(out, vldrwq_u32(table->offsets),
                                requantize_channel(vldrwq_s32(sums), r, range, left), (mve_pred16_t)table->lanes);
}

static void depthwise_channel(const mnd_depthwise_params* p, int32_t c, const plane_shape* s, const int8_t* plane,
                              int32_t* sums, const band_block* band, int8_t* output) {
  const channel_requant r = channel_requant_of(p->multiplier, p->shift, p->bias, c);
  const output_range range = {p->output_zero_point, p->act_min, p->act_max};
  const uint32x4_t offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)p->out_c);
  const int32_t row_bytes = p->out_w * p->out_c;
  const int8_t* taps[9];
  int32_t oy, row, k;
  output += c;
  for (oy = 0; oy < p->out_h; oy += s->band) {
    const int32_t rows = p->out_h - oy < s->band ? p->out_h - oy : s->band;
    for (k = 0; k < 9; ++k) taps[k] = plane + s->taps[k] + oy * s->pitch;
    if (p->stride_w == 1)
      channel_sums_unit(taps[0], taps[3], taps[6], p->weights + 9 * c, r.bias, (rows * s->pitch + 3) / 4, sums);
    else
      channel_sums(taps, p->weights + 9 * c, r.bias, (rows * s->pitch + 3) / 4, sums);
    if (rows == s->band && band_table_pays(p)) {
      requantize_band(sums, band, band_blocks(s), &r, range, output, 1);
      output += rows * row_bytes;
      continue;
    }
    for (row = 0; row < rows; ++row, output += row_bytes)
      requantize_row(sums + row * s->pitch, p->out_w, &r, range, output, offsets, 4 * p->out_c, 1);
  }
}

void mnd_depthwise3x3_mve_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch) {
  const plane_shape s = plane_shape_of(p);
  const int32_t inside = p->stride_h * p->stride_w * s.rows * s.pitch;
  /* a block of four outputs past the last reads up to 4 bytes beyond the sub-planes */
  const int32_t plane_bytes = (inside + 4 + 15) & ~15;
  int8_t* plane = (int8_t*)scratch;
  int32_t* sums = (int32_t*)(void*)(plane + plane_bytes);
  uint16_t* table = (uint16_t*)(void*)(sums + ((s.band * s.pitch + 3) & ~3));
  band_block* band = (band_block*)(void*)(table + ((p->in_h * p->in_w + 1) & ~1));
  const int by_table = table_gather_pays(p);
  int32_t c;
  fill_bytes(plane, (int8_t)p->input_zero_point, plane_bytes);
  if (band_table_pays(p)) fill_band_table(p, &s, band);
  if (by_table) fill_scatter_table(p, &s, inside, table);
  for (c = 0; c < p->out_c; ++c) {
    if (by_table)
      scatter_channel(p, input, c, table, plane);
    else
      gather_channel(p, input, c, &s, plane);
    depthwise_channel(p, c, &s, plane, sums, band, output);
  }
}

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

/* ---- AVERAGE_POOL_2D: four channels a lane each, summed over the window, divided as TFLite does ---- */

static inline int32_t divide_rounded(int32_t sum, int32_t count) {
  return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/* Channels c..c+3 (those below `lanes`) of one output pixel whose window is rows y0..y1, columns x0..x1. */
static inline int32x4_t pool_channels(const mnd_pool_params* p, const int8_t* input, int32_t c, int32_t y0, int32_t y1,
                                      int32_t x0, int32_t x1, mve_pred16_t lanes) {
  const int32_t count = (y1 - y0) * (x1 - x0);
  int32x4_t sum = vdupq_n_s32(0);
  int32_t y, x;
  for (y = y0; y < y1; ++y)
    for (x = x0; x < x1; ++x) sum = vaddq_s32(sum, vldrbq_z_s32(input + (y * p->in_w + x) * p->channels + c, lanes));
  if (count == 0) return vdupq_n_s32(0);
  sum = lanes_of(divide_rounded(vgetq_lane_s32(sum, 0), count), divide_rounded(vgetq_lane_s32(sum, 1), count),
                 divide_rounded(vgetq_lane_s32(sum, 2), count), divide_rounded(vgetq_lane_s32(sum, 3), count));
  return vminq_s32(vmaxq_s32(sum, vdupq_n_s32(p->act_min)), vdupq_n_s32(p->act_max));
}

void mnd_avg_pool_mve_s8(const mnd_pool_params* p, const int8_t* input, int8_t* output) {
  int32_t oy, ox, c;
  for (oy = 0; oy < p->out_h; ++oy) {
    const int32_t ys = oy * p->stride_h - p->pad_top;
    const int32_t y0 = ys < 0 ? 0 : ys, y1 = ys + p->k_h < p->in_h ? ys + p->k_h : p->in_h;
    for (ox = 0; ox < p->out_w; ++ox, output += p->channels) {
      const int32_t xs = ox * p->stride_w - p->pad_left;
      const int32_t x0 = xs < 0 ? 0 : xs, x1 = xs + p->k_w < p->in_w ? xs + p->k_w : p->in_w;
      for (c = 0; c < p->channels; c += 4) {
        const mve_pred16_t lanes = vctp32q((uint32_t)(p->channels - c));
        vstrbq_p_s32(output + c, pool_channels(p, input, c, y0, y1, x0, x1, lanes), lanes);
      }
    }
  }
}

#endif
