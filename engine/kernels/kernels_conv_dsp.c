/* CONV_2D (pointwise and KxK) for cores with the DSP extension (Cortex-M4, M7, M33, M55), bit-exact with kernels.c:
 * SXTB16 widens the even and odd bytes of a word into int16 lanes, SMLAD multiplies and adds both. Weights come
 * rearranged by engine/layouts.py; a host build (diagnosis) runs C versions of the instructions. See kernels.h. */
#include <string.h>

#include "kernels.h"
#include "kernels_dsp.h"
#include "kernels_dsp_requant.h"
#include "kernels_gemm_dsp.h"

/* The sums of one channel pair (weights at *w, advanced past them) over `groups` groups of lanes; a constant
 * `groups` (a shallow layer's) unrolls whole. */
#define MAX_UNROLLED_BLOCKS 4

static inline __attribute__((always_inline)) sums_3x2 gemm_3x2(const int32_t* x, const int32_t** w,
                                                               int32_t groups, const requant* t, int w16,
                                                               int whole4) {
  const int32_t* const end = x + 6 * groups;
  sums_3x2 s = {t[0].bias, t[1].bias, t[0].bias, t[1].bias, t[0].bias, t[1].bias};
  int32_t block;
  if (!whole4 && (groups & 1)) s = groups_3x2(&x, w, s, 1, w16);
  if (!whole4 && (groups & 2)) s = groups_3x2(&x, w, s, 2, w16);
  if (__builtin_constant_p(groups) && groups <= 4 * MAX_UNROLLED_BLOCKS) {
#pragma GCC unroll 4
    for (block = 0; block < groups >> 2; ++block) s = groups_3x2(&x, w, s, 4, w16);
  } else {
    while (x != end) s = groups_3x2(&x, w, s, 4, w16);
  }
  return s;
}

/* out[0..2]: the three pixels' outputs (a repeated pixel's twice). */
typedef struct {
  int8_t *p0, *p1, *p2;
} pixel_outputs;

/* One channel of three pixels, the channel's fields loaded first: the int8 stores may alias the table. */
static inline __attribute__((always_inline)) void requantize_three(const requant* r, int32_t s0, int32_t s1,
                                                                   int32_t s2, output_range range, int full,
                                                                   int kind, pixel_outputs out, int32_t c) {
  if (kind != REQUANT_ANY) {
    const int wide = kind == REQUANT_WIDE;
    const int32_t m = r->multiplier, offset = r->offset, right = r->right;
    const int32_t extra = kind == REQUANT_FOLDED ? 0 : r->extra;
    out.p0[c] = requantize_fast(s0, m, offset, right, extra, range, full, wide);
    out.p1[c] = requantize_fast(s1, m, offset, right, extra, range, full, wide);
    out.p2[c] = requantize_fast(s2, m, offset, right, extra, range, full, wide);
  } else {
    out.p0[c] = requantize(r, s0, range, full);
    out.p1[c] = requantize(r, s1, range, full);
    out.p2[c] = requantize(r, s2, range, full);
  }
}

/* A layer's requantization table and kind, and its channels (kernels.h): live_c summed, then the constant ones;
 * order: their output indices (the identity in scratch where the layer has no constant channel). */
typedef struct {
  const requant* table;
  int kind;
  int32_t live_c, constant_c;
  const uint16_t* order;
  const int8_t* constant_value;
} conv_requant;

/* All output channels of a pixel triple. kind: the layer's REQUANT_ kind (a constant where inlined). */
static inline __attribute__((always_inline)) void gemm_pixel_triple(const int32_t* lanes, int32_t groups,
                                                                    const int32_t* w, const conv_requant* rq,
                                                                    output_range range, pixel_outputs out, int full,
                                                                    int kind, int w16, int whole4) {
  const requant* const t = rq->table;
  const uint16_t* const order = rq->order;
  const int32_t pairs = rq->live_c & ~1;
  int32_t c;
  for (c = 0; c < pairs; c += 2) {
    const sums_3x2 s = gemm_3x2(lanes, &w, groups, t + c, w16, whole4);
    const int32_t first = order[c], second = order[c + 1];
    requantize_three(&t[c], s.p0c0, s.p1c0, s.p2c0, range, full, kind, out, first);
    requantize_three(&t[c + 1], s.p0c1, s.p1c1, s.p2c1, range, full, kind, out, second);
  }
  if (rq->live_c & 1) {
    const sums_3x2 s = gemm_3x2(lanes, &w, groups, t + c, w16, whole4);
    requantize_three(&t[c], s.p0c0, s.p1c0, s.p2c0, range, full, REQUANT_ANY, out, order[c]);
  }
  for (c = 0; c < rq->constant_c; ++c) {
    const int32_t index = order[rq->live_c + c];
    const int8_t value = rq->constant_value[c];
    out.p0[index] = value;
    out.p1[index] = value;
    out.p2[index] = value;
  }
}

/* How a layer's pixel triples get their lanes: split from the input (a 1x1 convolution; walk NULL) or from each
 * window in turn (conv_triple_lanes). */
typedef struct conv_walk conv_walk;
static void conv_triple_lanes(const mnd_conv_params* p, conv_walk* walk, int32_t count, int32_t* lanes);

/* Every pixel triple of the layer; the last one repeats its last pixel where fewer than three are left. */
static inline __attribute__((always_inline)) void gemm_triples(const mnd_conv_params* p, const int8_t* input,
                                                               int8_t* output, int32_t* lanes, int32_t groups,
                                                               const conv_requant* rq, conv_walk* walk,
                                                               int full, int kind, int w16, int whole4) {
  const output_range range = {p->act_min, p->act_max};
  const int32_t* w = (const int32_t*)(const void*)p->weights;
  const int32_t pixels = p->out_h * p->out_w, in_c = p->in_c, out_c = p->out_c;
  int32_t pixel;
  for (pixel = 0; pixel < pixels; pixel += TILE_PIXELS) {
    const int32_t second = pixel + 1 < pixels ? pixel + 1 : pixel;
    const int32_t third = pixel + 2 < pixels ? pixel + 2 : second;
    const pixel_outputs out = {output + pixel * out_c, output + second * out_c, output + third * out_c};
    if (walk)
      conv_triple_lanes(p, walk, third - pixel + 1, lanes);
    else
      split_pixel_triple(input + pixel * in_c, input + second * in_c, input + third * in_c, in_c, lanes);
    gemm_pixel_triple(lanes, groups, w, rq, range, out, full, kind, w16, whole4);
  }
}

/* A shallow layer's depth as a constant (its loops unrolled), for the common folded requantization and weights
 * widened ahead of time (a shallow layer's are small enough). */
#define SHALLOW_GROUPS 8
#define SHALLOW_CASE(n) \
  case n:               \
    gemm_triples(p, input, output, lanes, n, rq, walk, 1, REQUANT_FOLDED, w16, (n & 3) == 0); \
    break;

static inline __attribute__((always_inline)) void shallow_folded(const mnd_conv_params* p, const int8_t* input,
                                                                 int8_t* output, int32_t* lanes, int32_t groups,
                                                                 const conv_requant* rq, conv_walk* walk, int w16) {
  switch (groups) {
    SHALLOW_CASE(1) SHALLOW_CASE(2) SHALLOW_CASE(3) SHALLOW_CASE(4)
    SHALLOW_CASE(5) SHALLOW_CASE(6) SHALLOW_CASE(7) SHALLOW_CASE(8)
  }
}

/* A narrower output range always takes the general requantization (fewer copies of the loop); whole4: a depth of
 * whole four-group blocks, the common case, spares each tile two tests. */
static inline __attribute__((always_inline)) void gemm_layer_kinds(const mnd_conv_params* p, const int8_t* input,
                                                                   int8_t* output, int32_t* lanes, int32_t groups,
                                                                   conv_requant rq, conv_walk* walk, int w16) {
  const int whole4 = (groups & 3) == 0;
  if (!full_range(p->act_min, p->act_max))
    gemm_triples(p, input, output, lanes, groups, &rq, walk, 0, REQUANT_ANY, w16, 0);
  else if (rq.kind == REQUANT_FOLDED && w16 && groups <= SHALLOW_GROUPS)
    shallow_folded(p, input, output, lanes, groups, &rq, walk, w16);
  else if (rq.kind == REQUANT_FOLDED && whole4)
    gemm_triples(p, input, output, lanes, groups, &rq, walk, 1, REQUANT_FOLDED, w16, 1);
  else if (rq.kind == REQUANT_FOLDED)
    gemm_triples(p, input, output, lanes, groups, &rq, walk, 1, REQUANT_FOLDED, w16, 0);
  else if (rq.kind == REQUANT_ONE_MULTIPLY)
    gemm_triples(p, input, output, lanes, groups, &rq, walk, 1, REQUANT_ONE_MULTIPLY, w16, 0);
  else if (rq.kind == REQUANT_WIDE && whole4)
    gemm_triples(p, input, output, lanes, groups, &rq, walk, 1, REQUANT_WIDE, w16, 1);
  else if (rq.kind == REQUANT_WIDE)
    gemm_triples(p, input, output, lanes, groups, &rq, walk, 1, REQUANT_WIDE, w16, 0);
  else
    gemm_triples(p, input, output, lanes, groups, &rq, walk, 1, REQUANT_ANY, w16, 0);
}

static void gemm_layer(const mnd_conv_params* p, const int8_t* input, int8_t* output, int32_t* lanes,
                       int32_t groups, conv_requant rq, conv_walk* walk, int w16) {
  if (w16)
    gemm_layer_kinds(p, input, output, lanes, groups, rq, walk, 1);
  else
    gemm_layer_kinds(p, input, output, lanes, groups, rq, walk, 0);
}

/* The table (room for every channel) and the identity order, at the start of scratch; *lanes: past them. */
static conv_requant conv_table(const mnd_conv_params* p, void* scratch, int32_t** lanes) {
  requant* table = (requant*)scratch;
  uint16_t* identity = (uint16_t*)(table + ((p->out_c + 1) & ~1));
  const int32_t depth = p->k_h * p->k_w * p->in_c, live_c = p->out_c - p->constant_c;
  const int kind = requant_table(p->multiplier, p->shift, p->bias, depth, live_c, (live_c + 1) & ~1,
                                 p->output_zero_point, table);
  int32_t c;
  *lanes = (int32_t*)(void*)(identity + ((p->out_c + 1) & ~1));
  if (p->channel_index) return (conv_requant){table, kind, live_c, p->constant_c, p->channel_index, p->constant_value};
  for (c = 0; c < p->out_c; ++c) identity[c] = (uint16_t)c;
  return (conv_requant){table, kind, live_c, 0, identity, 0};
}

static void pointwise(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch, int w16) {
  int32_t* lanes;
  const conv_requant rq = conv_table(p, scratch, &lanes);
  gemm_layer(p, input, output, lanes, (p->in_c + 3) / 4, rq, 0, w16);
}

/* Any other convolution: each output pixel's window, in_c bytes per tap with the input zero point where it falls
 * on the padding, gathered in scratch as one depth of k_h * k_w * in_c bytes. */

static void copy_bytes(int8_t* to, const int8_t* from, int32_t count) {
  for (; count >= 4; count -= 4, to += 4, from += 4) {
    const int32_t word = load_word(from);
    memcpy(to, &word, 4);
  }
  for (; count > 0; --count) *to++ = *from++;
}

/* A window inside the image with unit dilation along rows: k_h rows of row_bytes, row_stride apart. */
static inline __attribute__((always_inline)) void copy_window(const int8_t* from, int32_t row_stride, int32_t rows,
                                                              int32_t row_bytes, int8_t* patch) {
  int32_t ky, k;
  for (ky = 0; ky < rows; ++ky, from += row_stride, patch += row_bytes) {
    for (k = 0; k + 4 <= row_bytes; k += 4) {
      const int32_t word = load_word(from + k);
      memcpy(patch + k, &word, 4);
    }
    for (; k < row_bytes; ++k) patch[k] = from[k];
  }
}

static void gather_window(const mnd_conv_params* p, const int8_t* input, int32_t oy, int32_t ox, int8_t* patch) {
  const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left, c = p->in_c;
  const int32_t row_bytes = p->k_w * c;
  const int contiguous = p->dilation_w == 1 && x0 >= 0 && x0 + p->k_w <= p->in_w;
  int32_t ky, kx;
  for (ky = 0; ky < p->k_h; ++ky, patch += row_bytes) {
    const int32_t y = y0 + ky * p->dilation_h;
    const int8_t* row = input + y * p->in_w * c;
    if (y < 0 || y >= p->in_h) {
      memset(patch, (int8_t)p->input_zero_point, (size_t)row_bytes);
    } else if (contiguous) {
      copy_bytes(patch, row + x0 * c, row_bytes);
    } else {
      for (kx = 0; kx < p->k_w; ++kx) {
        const int32_t x = x0 + kx * p->dilation_w;
        if (x < 0 || x >= p->in_w)
          memset(patch + kx * c, (int8_t)p->input_zero_point, (size_t)c);
        else
          copy_bytes(patch + kx * c, row + x * c, c);
      }
    }
  }
}

/* The windows inside the image (with unit dilation along rows) are copied row by row, the others gathered. */
typedef struct {
  int32_t first_x, last_x, first_y, last_y; /* output pixels whose windows are inside */
  int32_t row_stride, row_bytes;
} inside_windows;

static inside_windows inside(const mnd_conv_params* p) {
  const int32_t extent_h = (p->k_h - 1) * p->dilation_h + 1;
  inside_windows in = {(p->pad_left + p->stride_w - 1) / p->stride_w,
                       (p->in_w - p->k_w + p->pad_left) / p->stride_w,
                       (p->pad_top + p->stride_h - 1) / p->stride_h,
                       (p->in_h - extent_h + p->pad_top) / p->stride_h,
                       p->dilation_h * p->in_w * p->in_c, p->k_w * p->in_c};
  if (p->dilation_w != 1 || p->in_w < p->k_w || p->in_h < extent_h) in.first_x = p->out_w; /* none */
  return in;
}

static inline __attribute__((always_inline)) void window_bytes(const mnd_conv_params* p, const int8_t* input,
                                                               inside_windows in, int32_t oy, int32_t ox,
                                                               int8_t* patch) {
  if (ox >= in.first_x && ox <= in.last_x && oy >= in.first_y && oy <= in.last_y) {
    const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    const int8_t* from = input + (y0 * p->in_w + x0) * p->in_c;
    if (p->k_h == 3 && in.row_bytes == 9) /* a 3x3 window on three channels (RGB): its copy unrolled */
      copy_window(from, in.row_stride, 3, 9, patch);
    else
      copy_window(from, in.row_stride, p->k_h, in.row_bytes, patch);
  } else {
    gather_window(p, input, oy, ox, patch);
  }
}

struct conv_walk {
  const int8_t* input;
  inside_windows in;
  int8_t* patch; /* three windows, 4 * groups bytes each */
  int32_t groups, oy, ox; /* the next window's pixel */
};

/* The next `count` (1 to 3) windows' lanes, the last one repeated to three. */
static void conv_triple_lanes(const mnd_conv_params* p, conv_walk* walk, int32_t count, int32_t* lanes) {
  const int32_t bytes = 4 * walk->groups;
  int32_t i;
  for (i = 0; i < TILE_PIXELS; ++i) {
    window_bytes(p, walk->input, walk->in, walk->oy, walk->ox, walk->patch + i * bytes);
    if (i < count - 1 || i == TILE_PIXELS - 1) {
      if (++walk->ox == p->out_w) walk->ox = 0, ++walk->oy;
    }
  }
  split_pixel_triple(walk->patch, walk->patch + bytes, walk->patch + 2 * bytes, bytes, lanes);
}

static void convolution(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch, int w16) {
  int32_t* lanes;
  const conv_requant rq = conv_table(p, scratch, &lanes);
  const int32_t depth = p->k_h * p->k_w * p->in_c, groups = (depth + 3) / 4;
  conv_walk walk = {input, inside(p), (int8_t*)(lanes + 2 * TILE_PIXELS * groups), groups, 0, 0};
  memset(walk.patch, 0, (size_t)(TILE_PIXELS * 4 * groups)); /* the bytes past the depth meet zero weights */
  gemm_layer(p, input, output, lanes, groups, rq, &walk, w16);
}

void mnd_pointwise_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  pointwise(p, input, output, scratch, 0);
}

void mnd_pointwise_w16_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  pointwise(p, input, output, scratch, 1);
}

/* The int8 layout's words (an even count: a channel pair's) widened into the w16 layout (each word's even lanes,
 * then its odd ones). */
static void widen_weights(const int8_t* weights, int32_t words, int32_t* lanes) {
  const int32_t* w = (const int32_t*)(const void*)weights;
  const int32_t* const end = w + words;
#if defined(__ARM_FEATURE_DSP)
  while (w != end) {
    int32_t first, second, even_first, even_second;
    __asm__ volatile("ldrd %[a], %[b], [%[w]], #8\n\t"
                     "sxtb16 %[c], %[a]\n\t"
                     "sxtb16 %[a], %[a], ror #8\n\t"
                     "sxtb16 %[d], %[b]\n\t"
                     "sxtb16 %[b], %[b], ror #8\n\t"
                     "strd %[c], %[a], [%[l]], #8\n\t"
                     "strd %[d], %[b], [%[l]], #8\n\t"
                     : [w] "+r"(w), [l] "+r"(lanes), [a] "=&r"(first), [b] "=&r"(second), [c] "=&r"(even_first),
                       [d] "=&r"(even_second)
                     :
                     : "memory");
  }
#else
  for (; w != end; w += 2, lanes += 4) {
    lanes[0] = sxtb16_even(w[0]);
    lanes[1] = sxtb16_odd(w[0]);
    lanes[2] = sxtb16_even(w[1]);
    lanes[3] = sxtb16_odd(w[1]);
  }
#endif
}

void mnd_pointwise_widen_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  const int32_t live_c = p->out_c - p->constant_c, words = ((live_c + 1) & ~1) * ((p->in_c + 3) / 4);
  int32_t* lanes = (int32_t*)scratch;
  mnd_conv_params widened = *p;
  widen_weights(p->weights, words, lanes);
  widened.weights = (const int8_t*)(const void*)lanes;
  pointwise(&widened, input, output, lanes + 2 * words, 1);
}

void mnd_conv_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  convolution(p, input, output, scratch, 0);
}

void mnd_conv_w16_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  convolution(p, input, output, scratch, 1);
}

/* A 1x1 layer on a 1x1 image (squeeze-excite blocks, classifier heads): one pixel's lanes times two channels a
 * pass, the general requantization (a pixel triple would sum the one pixel three times). */
static inline __attribute__((always_inline)) void single_pixel(const mnd_conv_params* p, const int8_t* input,
                                                               int8_t* output, void* scratch, int w16) {
  const output_range range = {p->act_min, p->act_max};
  const int full = full_range(p->act_min, p->act_max);
  const int32_t* w = (const int32_t*)(const void*)p->weights;
  const int32_t groups = (p->in_c + 3) / 4;
  int32_t *lanes, c;
  const conv_requant rq = conv_table(p, scratch, &lanes);
  split_pixel(input, p->in_c, lanes);
  for (c = 0; c < rq.live_c; c += 2) {
    const sums_1x2 s = gemm_1x2(lanes, &w, groups, rq.table + c, w16);
    output[rq.order[c]] = requantize(&rq.table[c], s.c0, range, full);
    if (c + 1 < rq.live_c) output[rq.order[c + 1]] = requantize(&rq.table[c + 1], s.c1, range, full);
  }
  for (c = 0; c < rq.constant_c; ++c) output[rq.order[rq.live_c + c]] = rq.constant_value[c];
}

void mnd_pointwise_pixel_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  single_pixel(p, input, output, scratch, 0);
}

void mnd_pointwise_pixel_w16_dsp_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  single_pixel(p, input, output, scratch, 1);
}
