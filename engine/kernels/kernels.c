/* int8 kernels: TFLite reference integer arithmetic in C99. See kernels.h. */
#include "kernels.h"

#include <string.h>

static inline int32_t requantize_output(int32_t acc, int32_t multiplier, int32_t shift, int32_t zero_point,
                                        int32_t act_min, int32_t act_max) {
  return mnd_clamp(mnd_requantize(acc, multiplier, shift) + zero_point, act_min, act_max);
}

/* ---- per-channel requantization, hoisted out of the pixel loops ----
 * The same arithmetic as mnd_requantize for multipliers >= 0: (acc << left) high-multiplied with a plain 64-bit
 * shift (mnd_doubling_high_mul_nosat), then divided by 2^right rounding half away from zero. */

typedef struct {
  int32_t multiplier, left, right, mask, half;
} channel_rq;

static inline channel_rq channel_rq_make(int32_t multiplier, int32_t shift) {
  channel_rq r;
  r.multiplier = multiplier;
  r.left = shift > 0 ? shift : 0;
  r.right = shift > 0 ? 0 : -shift;
  r.mask = (int32_t)((1u << r.right) - 1u);
  r.half = r.mask >> 1;
  return r;
}

static inline int32_t channel_rq_apply(const channel_rq* r, int32_t acc, int32_t zero_point, int32_t act_min,
                                       int32_t act_max) {
  const int32_t high = mnd_doubling_high_mul_nosat((int32_t)((uint32_t)acc << r->left), r->multiplier);
  const int32_t rounded = (high >> r->right) + ((high & r->mask) > r->half - (high >> 31) ? 1 : 0);
  return mnd_clamp(rounded + zero_point, act_min, act_max);
}

/* ---- CONV_2D: im2col of four output pixels into packed pairs, then a GEMM with 64-bit accumulators ----
 * Two int8 values a and b travel in one int32 as a + b * 2^23; one 32x32->64 multiply-accumulate (SMLAL on
 * Cortex-M4) by a weight w then adds a * w + b * w * 2^23. A chunk of at most PACK_CHUNK products sums to
 * |sum a * w| <= PACK_CHUNK * 2^14 < 2^22, so both sums come back exactly from the 64-bit total. */

#define PACK_SHIFT 23
#define PACK_CHUNK 248
#define MND_PACK_DEPTH 512 /* k_h * k_w * in_c up to which CONV_2D takes the packed path (8 bytes each of stack) */

typedef struct {
  int32_t low, high;
} packed_sums;

static inline packed_sums unpack_sums(int64_t total) {
  packed_sums s;
  s.high = (int32_t)((total + ((int64_t)1 << (PACK_SHIFT - 1))) >> PACK_SHIFT);
  s.low = (int32_t)((uint32_t)total - ((uint32_t)s.high << PACK_SHIFT));
  return s;
}

/* packed[2k] = a[k] + b[k] * 2^23, packed[2k + 1] = c[k] + d[k] * 2^23 for k < n. */
static void pack_four(int32_t* restrict packed, const int8_t* a, const int8_t* b, const int8_t* c,
                      const int8_t* d, int32_t n) {
  int32_t k;
  for (k = 0; k < n; ++k) {
    packed[0] = (int32_t)a[k] + (int32_t)b[k] * (1 << PACK_SHIFT);
    packed[1] = (int32_t)c[k] + (int32_t)d[k] * (1 << PACK_SHIFT);
    packed += 2;
  }
}

/* sum_k x[k] * w[k] for the four pixels of `packed` (depth values each), added to sums[0..3]. */
static inline void dot_four(const int32_t* restrict packed, const int8_t* restrict w, int32_t depth,
                            int32_t sums[4]) {
  int32_t start;
  for (start = 0; start < depth; start += PACK_CHUNK) {
    const int32_t n = depth - start < PACK_CHUNK ? depth - start : PACK_CHUNK;
    const int32_t* x = packed + 2 * start;
    const int8_t* v = w + start;
    const int8_t* const end = v + (n & ~3);
    int64_t ab = 0, cd = 0;
    packed_sums s;
    while (v != end) {
      ab += (int64_t)x[0] * v[0];
      cd += (int64_t)x[1] * v[0];
      ab += (int64_t)x[2] * v[1];
      cd += (int64_t)x[3] * v[1];
      ab += (int64_t)x[4] * v[2];
      cd += (int64_t)x[5] * v[2];
      ab += (int64_t)x[6] * v[3];
      cd += (int64_t)x[7] * v[3];
      x += 8;
      v += 4;
    }
    for (; v != w + start + n; ++v, x += 2) {
      ab += (int64_t)x[0] * v[0];
      cd += (int64_t)x[1] * v[0];
    }
    s = unpack_sums(ab);
    sums[0] += s.low;
    sums[1] += s.high;
    s = unpack_sums(cd);
    sums[2] += s.low;
    sums[3] += s.high;
  }
}

/* The input row segment of output pixel `pixel` at filter tap (ky, kx), or `pad` (in_c zero points) outside. */
static inline const int8_t* conv_tap(const mnd_conv_params* p, const int8_t* input, const int8_t* pad,
                                     int32_t pixel, int32_t ky, int32_t kx) {
  const int32_t oy = pixel / p->out_w, ox = pixel - oy * p->out_w;
  const int32_t y = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
  const int32_t x = ox * p->stride_w - p->pad_left + kx * p->dilation_w;
  if (pixel >= p->out_h * p->out_w || y < 0 || y >= p->in_h || x < 0 || x >= p->in_w) return pad;
  return input + (y * p->in_w + x) * p->in_c;
}

static void conv_packed(const mnd_conv_params* p, const int8_t* input, int8_t* output) {
  int32_t packed[2 * MND_PACK_DEPTH];
  int8_t pad[MND_PACK_DEPTH];
  const int32_t pixels = p->out_h * p->out_w, depth = p->k_h * p->k_w * p->in_c, out_c = p->out_c;
  const int32_t zp = p->output_zero_point, act_min = p->act_min, act_max = p->act_max;
  const int dense_1x1 = p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
                        p->pad_left == 0 && p->in_h == p->out_h && p->in_w == p->out_w;
  int32_t pixel, c, ky, kx, i;
  memset(pad, (int8_t)p->input_zero_point, (size_t)p->in_c);
  for (pixel = 0; pixel < pixels; pixel += 4) {
    const int32_t count = pixels - pixel < 4 ? pixels - pixel : 4;
    int8_t* out = output + pixel * out_c;
    if (dense_1x1) {
      const int8_t* a = input + pixel * p->in_c;
      pack_four(packed, a, count > 1 ? a + p->in_c : pad, count > 2 ? a + 2 * p->in_c : pad,
                count > 3 ? a + 3 * p->in_c : pad, p->in_c);
    } else {
      for (ky = 0; ky < p->k_h; ++ky)
        for (kx = 0; kx < p->k_w; ++kx)
          pack_four(packed + 2 * (ky * p->k_w + kx) * p->in_c, conv_tap(p, input, pad, pixel, ky, kx),
                    conv_tap(p, input, pad, pixel + 1, ky, kx), conv_tap(p, input, pad, pixel + 2, ky, kx),
                    conv_tap(p, input, pad, pixel + 3, ky, kx), p->in_c);
    }
    for (c = 0; c < out_c; ++c) {
      const channel_rq rq = channel_rq_make(p->multiplier[c], p->shift[c]);
      const int32_t bias = p->bias ? p->bias[c] : 0;
      int32_t sums[4];
      sums[0] = sums[1] = sums[2] = sums[3] = bias;
      dot_four(packed, p->weights + c * depth, depth, sums);
      for (i = 0; i < count; ++i) out[i * out_c + c] = (int8_t)channel_rq_apply(&rq, sums[i], zp, act_min, act_max);
    }
  }
}

/* Any CONV_2D, one output at a time (filters deeper than MND_PACK_DEPTH). */
static void conv_generic(const mnd_conv_params* p, const int8_t* input, int8_t* output) {
  const int32_t zp_in = p->input_zero_point;
  int32_t oy, ox, oc, ky, kx, ic;
  for (oy = 0; oy < p->out_h; ++oy) {
    const int32_t y0 = oy * p->stride_h - p->pad_top;
    for (ox = 0; ox < p->out_w; ++ox) {
      const int32_t x0 = ox * p->stride_w - p->pad_left;
      for (oc = 0; oc < p->out_c; ++oc) {
        const int8_t* w = p->weights + oc * p->k_h * p->k_w * p->in_c;
        int32_t acc = p->bias ? p->bias[oc] : 0;
        for (ky = 0; ky < p->k_h; ++ky) {
          const int32_t y = y0 + ky * p->dilation_h;
          for (kx = 0; kx < p->k_w; ++kx, w += p->in_c) {
            const int32_t x = x0 + kx * p->dilation_w;
            if (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w) { /* padding: the zero point (bias is folded) */
              for (ic = 0; ic < p->in_c; ++ic) acc += zp_in * w[ic];
            } else {
              const int8_t* pixel = input + (y * p->in_w + x) * p->in_c;
              for (ic = 0; ic < p->in_c; ++ic) acc += pixel[ic] * w[ic];
            }
          }
        }
        *output++ = (int8_t)requantize_output(acc, p->multiplier[oc], p->shift[oc], p->output_zero_point,
                                              p->act_min, p->act_max);
      }
    }
  }
}

void mnd_conv2d_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output) {
  if (p->k_h * p->k_w * p->in_c <= MND_PACK_DEPTH)
    conv_packed(p, input, output);
  else
    conv_generic(p, input, output);
}

/* ---- DEPTHWISE_CONV_2D ---- */

/* One output pixel, any window, with bounds checks (the borders, and the general case). */
static void depthwise_pixel(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, int32_t oy,
                            int32_t ox) {
  const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
  const int32_t taps = p->k_h * p->k_w, zp_in = p->input_zero_point;
  int8_t* out = output + (oy * p->out_w + ox) * p->out_c;
  int32_t oc, ky, kx;
  for (oc = 0; oc < p->out_c; ++oc) {
    const int32_t ic = oc / p->depth_multiplier;
    const int8_t* w = p->weights + oc * taps;
    int32_t acc = p->bias ? p->bias[oc] : 0;
    for (ky = 0; ky < p->k_h; ++ky) {
      const int32_t y = y0 + ky * p->dilation_h;
      for (kx = 0; kx < p->k_w; ++kx) {
        const int32_t x = x0 + kx * p->dilation_w;
        const int32_t value = (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w)
                                  ? zp_in
                                  : input[(y * p->in_w + x) * p->in_c + ic];
        acc += value * *w++;
      }
    }
    out[oc] = (int8_t)requantize_output(acc, p->multiplier[oc], p->shift[oc], p->output_zero_point, p->act_min,
                                        p->act_max);
  }
}

/* ---- depthwise, depth multiplier 1, up to DW_MAX_TAPS taps: two output pixels at a time, a block of channels
 * at a time ----
 * The taps are a few passes over the channels (three taps at a time, then one) with an input pointer per tap and
 * pixel (a tap outside the image points at a row of zero points) into int32 sums; then one requantization pass.
 * Integer sums do not depend on their order, so this equals depthwise_pixel. Cortex-M4 (QEMU): 3x3 as fast as the
 * row-by-row version before it, 5x5 (MobileNet V3) 3.7x fewer instructions than depthwise_pixel. */

#define DW_BLOCK 256   /* channels per block: the sums take 8 bytes each of stack, the padding row 1 */
#define DW_MAX_TAPS 25 /* k_h * k_w up to which the pair path applies (5x5): 8 bytes each of stack */

static inline void depthwise_three_taps(const int8_t* restrict const* a, const int8_t* restrict const* b,
                                        const int8_t* restrict w, int32_t taps, int32_t* restrict sum_a,
                                        int32_t* restrict sum_b, int32_t channels) {
  const int8_t *a0 = a[0], *a1 = a[1], *a2 = a[2], *b0 = b[0], *b1 = b[1], *b2 = b[2];
  int32_t c;
  for (c = 0; c < channels; ++c, w += taps) {
    const int32_t w0 = w[0], w1 = w[1], w2 = w[2];
    sum_a[c] += a0[c] * w0 + a1[c] * w1 + a2[c] * w2;
    sum_b[c] += b0[c] * w0 + b1[c] * w1 + b2[c] * w2;
  }
}

static inline void depthwise_one_tap(const int8_t* restrict a, const int8_t* restrict b, const int8_t* restrict w,
                                     int32_t taps, int32_t* restrict sum_a, int32_t* restrict sum_b,
                                     int32_t channels) {
  int32_t c;
  for (c = 0; c < channels; ++c, w += taps) {
    sum_a[c] += a[c] * w[0];
    sum_b[c] += b[c] * w[0];
  }
}

/* Every tap: three at a time, then one. */
static inline void depthwise_all_taps(const int8_t* const* a, const int8_t* const* b, const int8_t* w, int32_t taps,
                                      int32_t* sum_a, int32_t* sum_b, int32_t channels) {
  int32_t t;
  for (t = 0; t + 3 <= taps; t += 3) depthwise_three_taps(a + t, b + t, w + t, taps, sum_a, sum_b, channels);
  for (; t < taps; ++t) depthwise_one_tap(a[t], b[t], w + t, taps, sum_a, sum_b, channels);
}

/* The input pointers of every tap of the pair's two pixels (a, b; b repeats a where count is 1) at channel
 * `start`; a tap outside the image points at the padding row, which is not offset (one block of zero points). */
static void depthwise_taps(const mnd_depthwise_params* p, const int8_t* input, const int8_t* pad, int32_t oy,
                           int32_t ox, int32_t count, int32_t start, const int8_t** a, const int8_t** b) {
  const int32_t y0 = oy * p->stride_h - p->pad_top;
  int32_t i, ky, kx;
  for (i = 0; i < 2; ++i) {
    const int8_t** taps = i == 0 ? a : b;
    const int32_t x0 = (ox + (i < count ? i : 0)) * p->stride_w - p->pad_left;
    for (ky = 0; ky < p->k_h; ++ky) {
      const int32_t y = y0 + ky * p->dilation_h;
      for (kx = 0; kx < p->k_w; ++kx) {
        const int32_t x = x0 + kx * p->dilation_w;
        taps[ky * p->k_w + kx] =
            (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w) ? pad : input + (y * p->in_w + x) * p->in_c + start;
      }
    }
  }
}

static void depthwise_pair(const mnd_depthwise_params* p, const int8_t* input, const int8_t* pad, int8_t* output,
                           int32_t oy, int32_t ox, int32_t count) {
  int32_t sums[2 * DW_BLOCK];
  const int8_t* a[DW_MAX_TAPS];
  const int8_t* b[DW_MAX_TAPS];
  const int32_t channels = p->out_c, zp = p->output_zero_point, act_min = p->act_min, act_max = p->act_max;
  const int32_t n_taps = p->k_h * p->k_w;
  int32_t start, c;
  for (start = 0; start < channels; start += DW_BLOCK) {
    const int32_t n = channels - start < DW_BLOCK ? channels - start : DW_BLOCK;
    int32_t* sum_a = sums;
    int32_t* sum_b = sums + DW_BLOCK;
    int8_t* out = output + (oy * p->out_w + ox) * channels + start;
    const int8_t* w = p->weights + start * n_taps;
    depthwise_taps(p, input, pad, oy, ox, count, start, a, b);
    for (c = 0; c < n; ++c) sum_a[c] = sum_b[c] = p->bias ? p->bias[start + c] : 0;
    if (n_taps == 9) { /* 3x3 and 5x5 (MobileNet's) with a constant weight stride the compiler folds in */
      depthwise_all_taps(a, b, w, 9, sum_a, sum_b, n);
    } else if (n_taps == 25) {
      depthwise_all_taps(a, b, w, 25, sum_a, sum_b, n);
    } else {
      depthwise_all_taps(a, b, w, n_taps, sum_a, sum_b, n);
    }
    for (c = 0; c < n; ++c) {
      const channel_rq rq = channel_rq_make(p->multiplier[start + c], p->shift[start + c]);
      out[c] = (int8_t)channel_rq_apply(&rq, sum_a[c], zp, act_min, act_max);
      if (count > 1) out[channels + c] = (int8_t)channel_rq_apply(&rq, sum_b[c], zp, act_min, act_max);
    }
  }
}

void mnd_depthwise_conv2d_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output) {
  int8_t pad[DW_BLOCK];
  int32_t oy, ox;
  if (p->k_h * p->k_w > DW_MAX_TAPS || p->depth_multiplier != 1) {
    for (oy = 0; oy < p->out_h; ++oy)
      for (ox = 0; ox < p->out_w; ++ox) depthwise_pixel(p, input, output, oy, ox);
    return;
  }
  memset(pad, (int8_t)p->input_zero_point, sizeof pad);
  for (oy = 0; oy < p->out_h; ++oy)
    for (ox = 0; ox < p->out_w; ox += 2)
      depthwise_pair(p, input, pad, output, oy, ox, p->out_w - ox < 2 ? p->out_w - ox : 2);
}

/* ---- AVERAGE_POOL_2D and MEAN ---- */

/* Integer division rounding half away from zero, as TFLite's pooling does. */
static inline int32_t divide_rounded(int32_t sum, int32_t count) {
  return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/* The window's sums of four channels from `first` on (`rows` x `columns` pixels from `corner`). */
static void pool_sums_4(const int8_t* corner, int32_t rows, int32_t columns, int32_t row_bytes, int32_t channels,
                        int32_t sums[4]) {
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, y, x;
  for (y = 0; y < rows; ++y, corner += row_bytes) {
    const int8_t* pixel = corner;
    for (x = 0; x < columns; ++x, pixel += channels) {
      s0 += pixel[0];
      s1 += pixel[1];
      s2 += pixel[2];
      s3 += pixel[3];
    }
  }
  sums[0] = s0, sums[1] = s1, sums[2] = s2, sums[3] = s3;
}

/* Four channels a pass (their bytes adjacent: one pixel's loads back to back), then one at a time. */
void mnd_avg_pool_s8(const mnd_pool_params* p, const int8_t* input, int8_t* output) {
  const int32_t channels = p->channels, row_bytes = p->in_w * channels;
  int32_t oy, ox, c, y, x, k;
  for (oy = 0; oy < p->out_h; ++oy) {
    const int32_t y0 = oy * p->stride_h - p->pad_top;
    const int32_t y_start = y0 < 0 ? 0 : y0;
    const int32_t y_end = y0 + p->k_h < p->in_h ? y0 + p->k_h : p->in_h;
    for (ox = 0; ox < p->out_w; ++ox) {
      const int32_t x0 = ox * p->stride_w - p->pad_left;
      const int32_t x_start = x0 < 0 ? 0 : x0;
      const int32_t x_end = x0 + p->k_w < p->in_w ? x0 + p->k_w : p->in_w;
      const int32_t count = (y_end - y_start) * (x_end - x_start); /* only cells inside the image */
      const int8_t* corner = input + (y_start * p->in_w + x_start) * channels;
      if (count <= 0) {
        for (c = 0; c < channels; ++c) *output++ = 0;
        continue;
      }
      for (c = 0; c + 4 <= channels; c += 4) {
        int32_t sums[4];
        pool_sums_4(corner + c, y_end - y_start, x_end - x_start, row_bytes, channels, sums);
        for (k = 0; k < 4; ++k) *output++ = (int8_t)mnd_clamp(divide_rounded(sums[k], count), p->act_min, p->act_max);
      }
      for (; c < channels; ++c) {
        int32_t sum = 0;
        for (y = y_start; y < y_end; ++y)
          for (x = x_start; x < x_end; ++x) sum += input[(y * p->in_w + x) * channels + c];
        *output++ = (int8_t)mnd_clamp(divide_rounded(sum, count), p->act_min, p->act_max);
      }
    }
  }
}

void mnd_mean_hw_s8(const mnd_mean_params* p, const int8_t* input, int8_t* output) {
  const int32_t count = p->in_h * p->in_w;
  int32_t c, i;
  for (c = 0; c < p->channels; ++c) {
    int32_t sum = 0;
    for (i = 0; i < count; ++i) sum += input[i * p->channels + c];
    output[c] = (int8_t)requantize_output(sum - p->input_zero_point * count, p->multiplier, p->shift,
                                          p->output_zero_point, -128, 127);
  }
}

/* ---- FULLY_CONNECTED ---- */

void mnd_fully_connected_s8(const mnd_fc_params* p, const int8_t* input, int8_t* output) {
  const int32_t in_offset = -p->input_zero_point;
  int32_t b, u, d;
  for (b = 0; b < p->batches; ++b) {
    const int8_t* row = input + b * p->depth;
    for (u = 0; u < p->units; ++u) {
      const int8_t* w = p->weights + u * p->depth;
      const int32_t q = p->per_channel ? u : 0;
      int32_t acc = 0;
      for (d = 0; d < p->depth; ++d) acc += (row[d] + in_offset) * w[d];
      if (p->bias) acc += p->bias[u];
      *output++ = (int8_t)requantize_output(acc, p->multiplier[q], p->shift[q], p->output_zero_point,
                                            p->act_min, p->act_max);
    }
  }
}

/* ---- QUANTIZE (int8 -> int8) and RESHAPE ---- */

void mnd_requantize_s8(const mnd_requantize_params* p, const int8_t* input, int8_t* output) {
  int32_t i;
  for (i = 0; i < p->size; ++i)
    output[i] = (int8_t)requantize_output(input[i] - p->input_zero_point, p->multiplier, p->shift,
                                          p->output_zero_point, -128, 127);
}

void mnd_reshape_s8(int32_t size, const int8_t* input, int8_t* output) {
  if (input != output) memmove(output, input, (size_t)size);
}
