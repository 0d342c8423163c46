/* CONV_2D (pointwise and KxK) for cores with the DSP extension (Cortex-M4, M7, M33, M55), bit-exact with kernels.c:
 * SXTB16 widens the even and odd bytes of a word into int16 lanes, SMLAD multiplies and adds both. Weights come
 * rearranged by engine/layouts.py; a host build (diagnosis) runs C versions of the instructions. See kernels.h. */
#include <string.h>

#include "kernels.h"
#include "kernels_dsp.h"
#include "kernels_dsp_requant.h"

/* ---- convolutions as a GEMM over pixel pairs x output channel pairs ----
 * Each pixel's depth (its in_c values for a 1x1 convolution; its k_h x k_w window, gathered into scratch, for any
 * other) is split four bytes at a time into even and odd int16 lanes (sxtb16), the two pixels' lanes side by
 * side, so that the inner loop loads them ready for SMLAD. Weights (layouts.pointwise_dsp): channel pairs, each
 * as one word per channel per 4-byte group, in groups of ceil(depth / 4) zero-padded; an odd last channel is
 * paired with zeros. */

static void split_pixel_pair(const int8_t* a, const int8_t* b, int32_t depth, int32_t* lanes) {
  const int32_t whole = depth & ~3;
  int32_t k;
  for (k = 0; k < whole; k += 4, lanes += 4) {
    const int32_t wa = load_word(a + k), wb = load_word(b + k);
    lanes[0] = sxtb16_even(wa);
    lanes[1] = sxtb16_odd(wa);
    lanes[2] = sxtb16_even(wb);
    lanes[3] = sxtb16_odd(wb);
  }
  if (whole < depth) {
    int8_t ta[4] = {0, 0, 0, 0}, tb[4] = {0, 0, 0, 0};
    memcpy(ta, a + whole, (size_t)(depth - whole));
    memcpy(tb, b + whole, (size_t)(depth - whole));
    split_pixel_pair(ta, tb, 4, lanes);
  }
}

typedef struct {
  int32_t p0c0, p0c1, p1c0, p1c1;
} sums_2x2;

/* One 4-byte group: two pixels' lanes (four words) times two channels' weights (two words). */
static inline __attribute__((always_inline)) sums_2x2 group_2x2(const int32_t* x, const int32_t* w, sums_2x2 s) {
  const int32_t w0 = w[0], w1 = w[1];
  int32_t even = sxtb16_even(w0), odd = sxtb16_odd(w0);
  s.p0c0 = smlad(x[1], odd, smlad(x[0], even, s.p0c0));
  s.p1c0 = smlad(x[3], odd, smlad(x[2], even, s.p1c0));
  even = sxtb16_even(w1);
  odd = sxtb16_odd(w1);
  s.p0c1 = smlad(x[1], odd, smlad(x[0], even, s.p0c1));
  s.p1c1 = smlad(x[3], odd, smlad(x[2], even, s.p1c1));
  return s;
}

/* The same with weights widened ahead of time (w16): per channel its even and odd lanes, two words. */
static inline __attribute__((always_inline)) sums_2x2 group_2x2_w16(const int32_t* x, const int32_t* w, sums_2x2 s) {
  s.p0c0 = smlad(x[1], w[1], smlad(x[0], w[0], s.p0c0));
  s.p1c0 = smlad(x[3], w[1], smlad(x[2], w[0], s.p1c0));
  s.p0c1 = smlad(x[1], w[3], smlad(x[0], w[2], s.p0c1));
  s.p1c1 = smlad(x[3], w[3], smlad(x[2], w[2], s.p1c1));
  return s;
}

#if defined(__ARM_FEATURE_DSP)
/* One group, the loads post-incrementing x and w: fifteen instructions (GCC's own allocation spills); twelve with
 * widened weights. */
#define GROUP_2X2_ASM                                        \
  "ldrd %[w0], %[w1], [%[w]], #8\n\t"                       \
  "ldrd %[xe], %[xo], [%[x]], #8\n\t"                       \
  "sxtb16 %[e0], %[w0]\n\t"                                 \
  "sxtb16 %[w0], %[w0], ror #8\n\t"                         \
  "smlad %[p0c0], %[xe], %[e0], %[p0c0]\n\t"                \
  "smlad %[p0c0], %[xo], %[w0], %[p0c0]\n\t"                \
  "sxtb16 %[e1], %[w1]\n\t"                                 \
  "sxtb16 %[w1], %[w1], ror #8\n\t"                         \
  "smlad %[p0c1], %[xe], %[e1], %[p0c1]\n\t"                \
  "smlad %[p0c1], %[xo], %[w1], %[p0c1]\n\t"                \
  "ldrd %[xe], %[xo], [%[x]], #8\n\t"                       \
  "smlad %[p1c0], %[xe], %[e0], %[p1c0]\n\t"                \
  "smlad %[p1c0], %[xo], %[w0], %[p1c0]\n\t"                \
  "smlad %[p1c1], %[xe], %[e1], %[p1c1]\n\t"                \
  "smlad %[p1c1], %[xo], %[w1], %[p1c1]\n\t"

#define GROUP_2X2_W16_ASM                                    \
  "ldrd %[e0], %[w0], [%[w]], #8\n\t"                       \
  "ldrd %[e1], %[w1], [%[w]], #8\n\t"                       \
  "ldrd %[xe], %[xo], [%[x]], #8\n\t"                       \
  "smlad %[p0c0], %[xe], %[e0], %[p0c0]\n\t"                \
  "smlad %[p0c0], %[xo], %[w0], %[p0c0]\n\t"                \
  "smlad %[p0c1], %[xe], %[e1], %[p0c1]\n\t"                \
  "smlad %[p0c1], %[xo], %[w1], %[p0c1]\n\t"                \
  "ldrd %[xe], %[xo], [%[x]], #8\n\t"                       \
  "smlad %[p1c0], %[xe], %[e0], %[p1c0]\n\t"                \
  "smlad %[p1c0], %[xo], %[w0], %[p1c0]\n\t"                \
  "smlad %[p1c1], %[xe], %[e1], %[p1c1]\n\t"                \
  "smlad %[p1c1], %[xo], %[w1], %[p1c1]\n\t"

#define GROUPS_2X2_OPERANDS                                                                                     \
  : [p0c0] "+r"(s.p0c0), [p0c1] "+r"(s.p0c1), [p1c0] "+r"(s.p1c0), [p1c1] "+r"(s.p1c1), [x] "+r"(*x), [w] "+r"(*w), \
    [w0] "=&r"(w0), [w1] "=&r"(w1), [xe] "=&r"(xe), [xo] "=&r"(xo), [e0] "=&r"(e0), [e1] "=&r"(e1)             \
  :                                                                                                             \
  : "memory"

/* count: 1, 2 or 4 groups. */
static inline __attribute__((always_inline)) sums_2x2 groups_2x2(const int32_t** x, const int32_t** w, sums_2x2 s,
                                                                 int count, int w16) {
  int32_t w0, w1, xe, xo, e0, e1;
  if (w16 && count == 4)
    __asm__ volatile(GROUP_2X2_W16_ASM GROUP_2X2_W16_ASM GROUP_2X2_W16_ASM GROUP_2X2_W16_ASM GROUPS_2X2_OPERANDS);
  else if (count == 4)
    __asm__ volatile(GROUP_2X2_ASM GROUP_2X2_ASM GROUP_2X2_ASM GROUP_2X2_ASM GROUPS_2X2_OPERANDS);
  else if (w16 && count == 2)
    __asm__ volatile(GROUP_2X2_W16_ASM GROUP_2X2_W16_ASM GROUPS_2X2_OPERANDS);
  else if (w16)
    __asm__ volatile(GROUP_2X2_W16_ASM GROUPS_2X2_OPERANDS);
  else if (count == 2)
    __asm__ volatile(GROUP_2X2_ASM GROUP_2X2_ASM GROUPS_2X2_OPERANDS);
  else
    __asm__ volatile(GROUP_2X2_ASM GROUPS_2X2_OPERANDS);
  return s;
}
#else
static inline sums_2x2 groups_2x2(const int32_t** x, const int32_t** w, sums_2x2 s, int count, int w16) {
  int32_t g;
  for (g = 0; g < count; ++g, *x += 4, *w += w16 ? 4 : 2)
    s = w16 ? group_2x2_w16(*x, *w, s) : group_2x2(*x, *w, s);
  return s;
}
#endif

/* The sums of one channel pair (weights at *w, advanced past them) over `groups` groups of lanes. */
static inline __attribute__((always_inline)) sums_2x2 gemm_2x2(const int32_t* x, const int32_t** w,
                                                               int32_t groups, const requant* t, int w16,
                                                               int whole4) {
  const int32_t* const end = x + 4 * groups;
  sums_2x2 s = {t[0].bias, t[1].bias, t[0].bias, t[1].bias};
  if (!whole4 && (groups & 1)) s = groups_2x2(&x, w, s, 1, w16);
  if (!whole4 && (groups & 2)) s = groups_2x2(&x, w, s, 2, w16);
  while (x != end) s = groups_2x2(&x, w, s, 4, w16);
  return s;
}

/* All output channels of a pixel pair (out0, out1: the two pixels' outputs; the same for a lone last pixel). */
/* kind: the layer's REQUANT_ kind (a constant where inlined). */
static inline __attribute__((always_inline)) void gemm_pixel_pair(const int32_t* lanes, int32_t groups,
                                                                  const int32_t* w, const requant* t,
                                                                  int32_t out_c, output_range range, int8_t* out0,
                                                                  int8_t* out1, int full, int kind, int w16,
                                                                  int whole4) {
  const requant* const pairs_end = t + (out_c & ~1);
  for (; t != pairs_end; t += 2, out0 += 2, out1 += 2) {
    const sums_2x2 s = gemm_2x2(lanes, &w, groups, t, w16, whole4);
    if (kind != REQUANT_ANY) { /* the fields loaded first: the int8 stores below may alias the table */
      const int wide = kind == REQUANT_WIDE;
      const int32_t m0 = t[0].multiplier, offset0 = t[0].offset, right0 = t[0].right;
      const int32_t m1 = t[1].multiplier, offset1 = t[1].offset, right1 = t[1].right;
      const int32_t extra0 = kind == REQUANT_FOLDED ? 0 : t[0].extra;
      const int32_t extra1 = kind == REQUANT_FOLDED ? 0 : t[1].extra;
      out0[0] = requantize_fast(s.p0c0, m0, offset0, right0, extra0, range, full, wide);
      out1[0] = requantize_fast(s.p1c0, m0, offset0, right0, extra0, range, full, wide);
      out0[1] = requantize_fast(s.p0c1, m1, offset1, right1, extra1, range, full, wide);
      out1[1] = requantize_fast(s.p1c1, m1, offset1, right1, extra1, range, full, wide);
    } else {
      out0[0] = requantize(&t[0], s.p0c0, range, full);
      out0[1] = requantize(&t[1], s.p0c1, range, full);
      out1[0] = requantize(&t[0], s.p1c0, range, full);
      out1[1] = requantize(&t[1], s.p1c1, range, full);
    }
  }
  if (out_c & 1) {
    const sums_2x2 s = gemm_2x2(lanes, &w, groups, t, w16, whole4);
    out0[0] = requantize(&t[0], s.p0c0, range, full);
    out1[0] = requantize(&t[0], s.p1c0, range, full);
  }
}

typedef struct {
  const requant* table;
  int kind;
} conv_requant;

/* How a layer's pixel pairs get their lanes: split from the input (a 1x1 convolution; walk NULL) or from each
 * window in turn (conv_pair_lanes). */
typedef struct conv_walk conv_walk;
static void conv_pair_lanes(const mnd_conv_params* p, conv_walk* walk, int pair, int32_t* lanes);

/* Every pixel pair of the layer. */
static inline __attribute__((always_inline)) void gemm_pairs(const mnd_conv_params* p, const int8_t* input,
                                                             int8_t* output, int32_t* lanes, int32_t groups,
                                                             const requant* t, conv_walk* walk, int full, int kind,
                                                             int w16, int whole4) {
  const output_range range = {p->act_min, p->act_max};
  const int32_t* w = (const int32_t*)(const void*)p->weights;
  const int32_t pixels = p->out_h * p->out_w, in_c = p->in_c, out_c = p->out_c;
  int32_t pixel;
  for (pixel = 0; pixel < pixels; pixel += 2) {
    const int32_t second = pixel + 1 < pixels ? pixel + 1 : pixel;
    if (walk)
      conv_pair_lanes(p, walk, second != pixel, lanes);
    else
      split_pixel_pair(input + pixel * in_c, input + second * in_c, in_c, lanes);
    gemm_pixel_pair(lanes, groups, w, t, out_c, range, output + pixel * out_c, output + second * out_c, full, kind,
                    w16, whole4);
  }
}

/* A narrower output range always takes the general requantization (fewer copies of the loop); whole4: a depth of
 * whole four-group blocks, the common case, spares each tile two tests. */
static inline __attribute__((always_inline)) void gemm_layer_kinds(const mnd_conv_params* p, const int8_t* input,
                                                                   int8_t* output, int32_t* lanes, int32_t groups,
                                                                   conv_requant rq, conv_walk* walk, int w16) {
  const requant* t = rq.table;
  const int whole4 = (groups & 3) == 0;
  if (!full_range(p->act_min, p->act_max))
    gemm_pairs(p, input, output, lanes, groups, t, walk, 0, REQUANT_ANY, w16, 0);
  else if (rq.kind == REQUANT_FOLDED && whole4)
    gemm_pairs(p, input, output, lanes, groups, t, walk, 1, REQUANT_FOLDED, w16, 1);
  else if (rq.kind == REQUANT_FOLDED)
    gemm_pairs(p, input, output, lanes, groups, t, walk, 1, REQUANT_FOLDED, w16, 0);
  else if (rq.kind == REQUANT_ONE_MULTIPLY)
    gemm_pairs(p, input, output, lanes, groups, t, walk, 1, REQUANT_ONE_MULTIPLY, w16, 0);
  else if (rq.kind == REQUANT_WIDE && whole4)
    gemm_pairs(p, input, output, lanes, groups, t, walk, 1, REQUANT_WIDE, w16, 1);
  else if (rq.kind == REQUANT_WIDE)
    gemm_pairs(p, input, output, lanes, groups, t, walk, 1, REQUANT_WIDE, w16, 0);
  else
    gemm_pairs(p, input, output, lanes, groups, t, walk, 1, REQUANT_ANY, w16, 0);
}

static void gemm_layer(const mnd_conv_params* p, const int8_t* input, int8_t* output, int32_t* lanes,
                       int32_t groups, conv_requant rq, conv_walk* walk, int w16) {
  if (w16)
    gemm_layer_kinds(p, input, output, lanes, groups, rq, walk, 1);
  else
    gemm_layer_kinds(p, input, output, lanes, groups, rq, walk, 0);
}

static conv_requant conv_table(const mnd_conv_params* p, void* scratch) {
  requant* table = (requant*)scratch;
  const int32_t depth = p->k_h * p->k_w * p->in_c;
  const int kind = requant_table(p->multiplier, p->shift, p->bias, depth, p->out_c, (p->out_c + 1) & ~1,
                                 p->output_zero_point, table);
  return (conv_requant){table, kind};
}

static void pointwise(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch, int w16) {
  const conv_requant rq = conv_table(p, scratch);
  int32_t* lanes = (int32_t*)(rq.table + ((p->out_c + 1) & ~1));
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
    copy_window(input + (y0 * p->in_w + x0) * p->in_c, in.row_stride, p->k_h, in.row_bytes, patch);
  } else {
    gather_window(p, input, oy, ox, patch);
  }
}

struct conv_walk {
  const int8_t* input;
  inside_windows in;
  int8_t* patch; /* two windows, 4 * groups bytes each */
  int32_t groups, oy, ox; /* the next window's pixel */
};

static void conv_pair_lanes(const mnd_conv_params* p, conv_walk* walk, int pair, int32_t* lanes) {
  int8_t* second = walk->patch + 4 * walk->groups;
  window_bytes(p, walk->input, walk->in, walk->oy, walk->ox, walk->patch);
  if (pair && ++walk->ox == p->out_w) walk->ox = 0, ++walk->oy;
  window_bytes(p, walk->input, walk->in, walk->oy, walk->ox, second);
  if (++walk->ox == p->out_w) walk->ox = 0, ++walk->oy;
  split_pixel_pair(walk->patch, second, 4 * walk->groups, lanes);
}

static void convolution(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch, int w16) {
  const conv_requant rq = conv_table(p, scratch);
  const int32_t depth = p->k_h * p->k_w * p->in_c, groups = (depth + 3) / 4;
  int32_t* lanes = (int32_t*)(rq.table + ((p->out_c + 1) & ~1));
  conv_walk walk = {input, inside(p), (int8_t*)(lanes + 4 * groups), groups, 0, 0};
  memset(walk.patch, 0, (size_t)(8 * groups)); /* the bytes past the depth meet zero weights */
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
  const int32_t words = ((p->out_c + 1) & ~1) * ((p->in_c + 3) / 4);
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
