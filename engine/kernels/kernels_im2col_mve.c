/* CONV_2D through im2col (KxK, strided, padded) for cores with the M-profile Vector Extension (Helium: Cortex-M55,
 * M85), bit-exact with the portable kernels in kernels.c: rows of the windows built in scratch, multiplied by the
 * GEMM of kernels_conv_mve.c. Weights from engine/layouts_mve.py (im2col_mve). Without MVE this file compiles to
 * nothing. */
#include "kernels.h"

#if defined(__ARM_FEATURE_MVE)
#include "kernels_gemm_mve.h"

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

/* Output rows [first_oy, end_oy) and columns [first_ox, end_ox) whose windows lie inside the image. */
typedef struct {
  int32_t first_oy, end_oy, first_ox, end_ox;
} inside_windows;

static int32_t first_inside(int32_t stride, int32_t pad) { return (pad + stride - 1) / stride; }

/* The end of the outputs whose window, `extent` long from o * stride - pad, ends within `size`. */
static int32_t end_inside(int32_t stride, int32_t pad, int32_t extent, int32_t size, int32_t outputs) {
  const int32_t end = size + pad >= extent ? (size + pad - extent) / stride + 1 : 0;
  return end < outputs ? end : outputs;
}

static inside_windows inside_windows_of(const mnd_conv_params* p) {
  inside_windows w;
  w.first_oy = first_inside(p->stride_h, p->pad_top);
  w.end_oy = end_inside(p->stride_h, p->pad_top, (p->k_h - 1) * p->dilation_h + 1, p->in_h, p->out_h);
  w.first_ox = first_inside(p->stride_w, p->pad_left);
  w.end_ox = end_inside(p->stride_w, p->pad_left, p->k_w, p->in_w, p->out_w);
  return w;
}

/* Copies the k_h rows of a window starting at src, `step` apart, to dst, one vector each, in order: a row's copy
 * spills up to 16 bytes into the next row, written after it. */
static inline void copy_window(const mnd_conv_params* p, const int8_t* src, int8_t* dst, int32_t span, int32_t step) {
  int32_t ky;
  if (p->k_h == 3) {
    vstrbq_s8(dst, vldrbq_s8(src));
    vstrbq_s8(dst + span, vldrbq_s8(src + step));
    vstrbq_s8(dst + 2 * span, vldrbq_s8(src + 2 * step));
    return;
  }
  for (ky = 0; ky < p->k_h; ++ky) vstrbq_s8(dst + ky * span, vldrbq_s8(src + ky * step));
}

/* The GEMM fast path on im2col rows. Four outputs of one row whose windows lie inside the image, their rows at most
 * 16 bytes (and a 16-byte load from the last staying inside the input), copy each window row with one vector; the
 * others go through im2col_row. */
static void im2col_pairs(const mnd_conv_params* p, const int8_t* input, int8_t* output, const channel_requant* table,
                         int8_t* rows, int32_t stride, int left) {
  const int32_t pixels = p->out_h * p->out_w, in_c = p->in_c, span = p->k_w * in_c;
  const int32_t step = p->dilation_h * p->in_w * in_c, next = p->stride_w * in_c;
  const int8_t* const input_end = input + p->in_h * p->in_w * in_c;
  const inside_windows inside = inside_windows_of(p);
  const int quick = p->dilation_w == 1 && span <= 16;
  const int8_t* block_rows[4];
  fast_block fb;
  int32_t pixel, i, oy = 0, ox = 0;
  mnd_mve_fast_block_init(&fb, p, stride, table, left);
  for (pixel = 0; pixel < pixels; pixel += 4) {
    const int32_t count = pixels - pixel < 4 ? pixels - pixel : 4;
    const int8_t* src = input + ((oy * p->stride_h - p->pad_top) * p->in_w + ox * p->stride_w - p->pad_left) * in_c;
    for (i = 0; i < 4; ++i) block_rows[i] = rows + (i < count ? i : count - 1) * stride;
    if (quick && count == 4 && oy >= inside.first_oy && oy < inside.end_oy && ox >= inside.first_ox &&
        ox + 4 <= inside.end_ox && src + 3 * next + (p->k_h - 1) * step + 16 <= input_end) {
      for (i = 0; i < 4; ++i, src += next) copy_window(p, src, rows + i * stride, span, step);
      ox += 4;
      if (ox == p->out_w) ox = 0, ++oy;
    } else {
      for (i = 0; i < count; ++i) {
        im2col_row(p, input, oy, ox, rows + i * stride);
        if (++ox == p->out_w) ox = 0, ++oy;
      }
    }
    mnd_mve_fast_block_run(&fb, block_rows, output + pixel * p->out_c, count);
  }
}

/* Beyond 16 deep, the filters (layouts_mve.im2col_mve) and the rows are padded to whole vectors, the filters with
 * zeros: then, with an even out_c, the filters come in pairs for the GEMM fast path. */
void mnd_conv_im2col_mve_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  channel_requant* table = (channel_requant*)scratch;
  const int32_t depth = p->k_h * p->k_w * p->in_c, stride = (depth + 15) & ~15, pixels = p->out_h * p->out_w;
  int8_t* rows = (int8_t*)(table + p->out_c);
  const int left = mnd_mve_fill_requant_table(p, table);
  int32_t pixel, i, oy = 0, ox = 0;
  if (depth > 16 && p->out_c % 2 == 0) {
    im2col_pairs(p, input, output, table, rows, stride, left);
    return;
  }
  for (pixel = 0; pixel < pixels; pixel += 4) {
    row_block b;
    b.count = pixels - pixel < 4 ? pixels - pixel : 4;
    b.out = output + pixel * p->out_c;
    b.w_step = depth > 16 ? stride : depth;
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
    mnd_mve_gemm_block(p, table, &b, left);
  }
}

#endif
