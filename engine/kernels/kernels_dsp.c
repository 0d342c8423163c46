/* int8 kernels for cores with the Armv7E-M / Armv8-M DSP extension (Cortex-M4, M7, M33, M55): SXTB16 widens the
 * even and odd bytes of a word into two int16 lanes, SMLAD multiplies both lanes and adds both products.
 * Bit-exact with the portable kernels in kernels.c; the generator (engine/layouts.py) rearranges the weights
 * for them ahead of time and hands each call a scratch area planned in the arena. See kernels.h.
 *
 * Where the DSP extension is missing (a host build, for diagnosis) the same code runs on C versions of the
 * five instructions it uses. */
#include <string.h>

#include "kernels.h"
#include "kernels_dsp.h"

static inline int32_t load_word(const int8_t* p) {
  int32_t word;
  memcpy(&word, p, 4);
  return word;
}

/* ---- requantization: TFLite's double rounding with one rounding multiply ----
 * (x * 2 * m + 2^31) >> 32 is gemmlowp's SaturatingRoundingDoublingHighMul of x and m while 2x fits in int32.
 * requant_table checks that for every channel from its bias and the largest possible sum of products
 * (depth * 128 * 128); a channel with a huge bias (a dead channel's, near 2^30) is `wide`: its high half comes
 * from the 64-bit product instead. The division by 2^right (1 <= right <= 31) then rounds half away from zero.
 * For right <= 22 the output zero point is added before it as zero_point * 2^right (exact: a multiple of 2^right;
 * the sum stays under 2^30 + 2^29), otherwise, and for a wide channel, after it (`extra`). Any other channel (a
 * left shift, a high half too close to 2^31) keeps the arithmetic of mnd_requantize, marked by right 0, with its
 * shift in `extra` and the zero point in `offset`. */

#define MAX_FOLDED_RIGHT 22

typedef struct {
  int32_t bias, multiplier, offset, right, extra, wide;
} requant;

static int64_t sum_bound(int32_t bias, int32_t depth) {
  return (bias < 0 ? -(int64_t)bias : (int64_t)bias) + (int64_t)depth * 128 * 128;
}

/* sum_bound < 2^30 without 64-bit arithmetic where depth < 2^16 (every layer of a MobileNet). */
static int fits_one_multiply(int32_t bias, int32_t depth) {
  const uint32_t magnitude = bias < 0 ? 0u - (uint32_t)bias : (uint32_t)bias;
  if (depth >= (1 << 16)) return sum_bound(bias, depth) < ((int64_t)1 << 30);
  return magnitude < (1u << 30) && magnitude + ((uint32_t)depth << 14) < (1u << 30);
}

/* Whether the high half of the 64-bit product plus the rounding offset 2^(right - 1) stays in int32. */
static int wide_fits(int64_t bound, int32_t multiplier, int32_t right) {
  return bound < ((int64_t)1 << 31) && ((bound * multiplier) >> 31) + 1 + ((int64_t)1 << (right - 1)) < ((int64_t)1 << 31);
}

static inline __attribute__((always_inline)) void requant_entry(int32_t multiplier, int32_t shift, int32_t bias,
                                                               int32_t depth, int32_t zero_point, requant* r) {
  /* multiplier 0 (a dead channel): every output is the zero point, which right 1 gives for any shift */
  const int32_t right = multiplier == 0 ? 1 : (shift < 0 ? -shift : 0);
  if (multiplier == 0) bias = 0;
  r->bias = bias;
  r->multiplier = multiplier;
  r->offset = zero_point;
  r->right = 0;
  r->extra = shift;
  r->wide = 0;
  if (right < 1 || right > 31) return;
  if (fits_one_multiply(bias, depth)) {
    const int folded = right <= MAX_FOLDED_RIGHT;
    r->right = right;
    r->offset = ((int32_t)1 << (right - 1)) + (folded ? zero_point * ((int32_t)1 << right) : 0);
    r->extra = folded ? 0 : zero_point;
  } else if (wide_fits(sum_bound(bias, depth), multiplier, right)) {
    r->right = right;
    r->offset = (int32_t)1 << (right - 1);
    r->extra = zero_point;
    r->wide = 1;
  }
}

/* How a layer's channels requantize: every one with the zero point folded in, every one with one multiply, every
 * one with one multiply some of them wide, or some with mnd_requantize. */
enum { REQUANT_ANY, REQUANT_WIDE, REQUANT_ONE_MULTIPLY, REQUANT_FOLDED };

/* entries: channels rounded up (to a whole channel pair or group); the padding entries have bias 0. Returns the
 * layer's REQUANT_ kind. */
static int requant_table(const int32_t* multiplier, const int32_t* shift, const int32_t* bias, int32_t depth,
                         int32_t channels, int32_t entries, int32_t zero_point, requant* table) {
  int folded = 1, one_multiply = 1, narrow = 1;
  int32_t c;
  for (c = 0; c < entries; ++c) {
    if (c < channels)
      requant_entry(multiplier[c], shift[c], bias ? bias[c] : 0, depth, zero_point, &table[c]);
    else
      requant_entry(0, 0, 0, depth, zero_point, &table[c]);
    one_multiply &= table[c].right != 0;
    narrow &= !table[c].wide;
    folded &= table[c].right != 0 && table[c].extra == 0;
  }
  if (!one_multiply) return REQUANT_ANY;
  return !narrow ? REQUANT_WIDE : (folded ? REQUANT_FOLDED : REQUANT_ONE_MULTIPLY);
}

typedef struct {
  int32_t act_min, act_max;
} output_range;

static inline __attribute__((always_inline)) int8_t clamp(int32_t value, output_range out, int full) {
  if (full) return (int8_t)ssat8(value);
  value = value < out.act_min ? out.act_min : value;
  return (int8_t)(value > out.act_max ? out.act_max : value);
}

static __attribute__((noinline)) int32_t requantize_64(const requant* r, int32_t acc) {
  return mnd_requantize(acc, r->multiplier, r->extra) + r->offset;
}

/* SaturatingRoundingDoublingHighMul of acc and multiplier, either way (no saturation: multiplier >= 0). */
static inline __attribute__((always_inline)) int32_t high_half(int32_t acc, int32_t multiplier, int wide) {
  if (wide) return (int32_t)(((int64_t)acc * multiplier + ((int64_t)1 << 30)) >> 31);
  return smmulr((int32_t)((uint32_t)acc << 1), multiplier);
}

/* full: act_min -128 and act_max 127 (a constant where the callers are inlined: one SSAT clamps). */
static inline __attribute__((always_inline)) int8_t requantize(const requant* r, int32_t acc, output_range out,
                                                               int full) {
  int32_t value;
  if (__builtin_expect(r->right != 0, 1)) {
    const int32_t high = r->wide ? high_half(acc, r->multiplier, 1) : high_half(acc, r->multiplier, 0);
    value = ((high + r->offset + (high >> 31)) >> r->right) + r->extra;
  } else {
    value = requantize_64(r, acc);
  }
  return clamp(value, out, full);
}

/* requantize for a channel known to take the one-multiply path (right > 0), its fields already loaded; extra
 * as in the table, or 0 where the zero point is folded; wide: for every channel of a REQUANT_WIDE layer. */
static inline __attribute__((always_inline)) int8_t requantize_fast(int32_t acc, int32_t multiplier, int32_t offset,
                                                                    int32_t right, int32_t extra, output_range out,
                                                                    int full, int wide) {
  const int32_t high = high_half(acc, multiplier, wide);
  return clamp(((high + offset + (high >> 31)) >> right) + extra, out, full);
}

static inline int full_range(int32_t act_min, int32_t act_max) { return act_min == -128 && act_max == 127; }

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

/* ---- KxK depthwise (K = 3 or 5), depth multiplier 1, no dilation: four channels per word ----
 * The input rows a window needs are widened once into int16 lanes in scratch, K rows in turn (row y in slot
 * y % K), padded with the input zero point to every column a window reads: per group of four channels, per padded
 * column, two words (channels 0 and 2, channels 1 and 3). A channel count that is not a multiple of four gets a
 * last group padded with zero weights. Weights (layouts.depthwise_dsp), widened likewise: per group, per tap, two
 * words. K is a constant in each instance. */

#define MAX_K 5

typedef struct {
  int32_t groups, width; /* four-channel groups; padded columns ((out_w - 1) * stride_w + K) */
  int32_t zero_lanes;    /* the input zero point in both int16 lanes */
} lane_rows;

static int32_t last_group_word(const int8_t* pixel, int32_t from, int32_t channels) {
  int8_t bytes[4] = {0, 0, 0, 0};
  memcpy(bytes, pixel + from, (size_t)(channels - from));
  return load_word(bytes);
}

/* Padded input row `y` (outside the image: all zero point) into `row`, [groups][width][2] words. */
static void widen_row(const mnd_depthwise_params* p, const int8_t* input, int32_t y, lane_rows shape, int32_t* row) {
  const int32_t channels = p->in_c, width = shape.width, whole = channels & ~3;
  int32_t column, g;
  for (column = 0; column < width; ++column) {
    const int32_t x = column - p->pad_left;
    const int8_t* pixel = input + (y * p->in_w + x) * channels;
    int32_t* lanes = row + 2 * column;
    if (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w) {
      for (g = 0; g < shape.groups; ++g, lanes += 2 * width) lanes[0] = lanes[1] = shape.zero_lanes;
      continue;
    }
    for (g = 0; g < whole; g += 4, lanes += 2 * width) {
      const int32_t word = load_word(pixel + g);
      lanes[0] = sxtb16_even(word);
      lanes[1] = sxtb16_odd(word);
    }
    if (whole < channels) {
      const int32_t word = last_group_word(pixel, whole, channels);
      lanes[0] = sxtb16_even(word);
      lanes[1] = sxtb16_odd(word);
    }
  }
}

typedef struct {
  int32_t c0, c1, c2, c3;
} sums_4;

#if defined(__ARM_FEATURE_DSP)
/* One tap: two words of x's lanes at byte `at` from x, two of w's (w advanced past them). */
#define TAP_4_ASM(x, at)                                  \
  "ldrd %[xe], %[xo], [%[" x "], #" at "]\n\t"            \
  "ldrd %[we], %[wo], [%[w]], #8\n\t"                     \
  "smlabb %[c0], %[xe], %[we], %[c0]\n\t"                 \
  "smlatt %[c2], %[xe], %[we], %[c2]\n\t"                 \
  "smlabb %[c1], %[xo], %[wo], %[c1]\n\t"                 \
  "smlatt %[c3], %[xo], %[wo], %[c3]\n\t"

/* The nine taps; GCC's own code loads a word at a time. */
static inline __attribute__((always_inline)) sums_4 window_4(const int32_t* r0, const int32_t* r1, const int32_t* r2,
                                                             const int32_t* w, sums_4 s) {
  int32_t xe, xo, we, wo;
  __asm__ volatile(TAP_4_ASM("r0", "0") TAP_4_ASM("r0", "8") TAP_4_ASM("r0", "16")
                   TAP_4_ASM("r1", "0") TAP_4_ASM("r1", "8") TAP_4_ASM("r1", "16")
                   TAP_4_ASM("r2", "0") TAP_4_ASM("r2", "8") TAP_4_ASM("r2", "16")
                   : [c0] "+r"(s.c0), [c1] "+r"(s.c1), [c2] "+r"(s.c2), [c3] "+r"(s.c3), [w] "+r"(w),
                     [xe] "=&r"(xe), [xo] "=&r"(xo), [we] "=&r"(we), [wo] "=&r"(wo)
                   : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2)
                   : "memory");
  return s;
}

/* One filter row of five taps (w: its first). */
static inline __attribute__((always_inline)) sums_4 row5_4(const int32_t* r0, const int32_t* w, sums_4 s) {
  int32_t xe, xo, we, wo;
  __asm__ volatile(TAP_4_ASM("r0", "0") TAP_4_ASM("r0", "8") TAP_4_ASM("r0", "16") TAP_4_ASM("r0", "24")
                   TAP_4_ASM("r0", "32")
                   : [c0] "+r"(s.c0), [c1] "+r"(s.c1), [c2] "+r"(s.c2), [c3] "+r"(s.c3), [w] "+r"(w),
                     [xe] "=&r"(xe), [xo] "=&r"(xo), [we] "=&r"(we), [wo] "=&r"(wo)
                   : [r0] "r"(r0)
                   : "memory");
  return s;
}
#else
static inline sums_4 tap_4(const int32_t* x, const int32_t* w, sums_4 s) {
  s.c0 = smlabb(x[0], w[0], s.c0);
  s.c2 = smlatt(x[0], w[0], s.c2);
  s.c1 = smlabb(x[1], w[1], s.c1);
  s.c3 = smlatt(x[1], w[1], s.c3);
  return s;
}

static inline sums_4 window_4(const int32_t* r0, const int32_t* r1, const int32_t* r2, const int32_t* w, sums_4 s) {
  const int32_t* rows[3] = {r0, r1, r2};
  int32_t k;
  for (k = 0; k < 9; ++k) s = tap_4(rows[k / 3] + 2 * (k % 3), w + 2 * k, s);
  return s;
}

static inline sums_4 row5_4(const int32_t* r0, const int32_t* w, sums_4 s) {
  int32_t k;
  for (k = 0; k < 5; ++k) s = tap_4(r0 + 2 * k, w + 2 * k, s);
  return s;
}
#endif

/* The K rows' pointers as scalars (an array here would live on the stack: the asm's memory clobber keeps it there). */
typedef struct {
  const int32_t *r0, *r1, *r2, *r3, *r4; /* r3, r4: 5x5 only */
} window_rows;

static inline __attribute__((always_inline)) window_rows advance(window_rows r, int32_t words, int32_t k) {
  r.r0 += words;
  r.r1 += words;
  r.r2 += words;
  if (k == 5) {
    r.r3 += words;
    r.r4 += words;
  }
  return r;
}

/* The KxK window of four channels at the rows r. */
static inline __attribute__((always_inline)) sums_4 window_k(window_rows r, const int32_t* w, sums_4 s, int32_t k) {
  if (k == 3) return window_4(r.r0, r.r1, r.r2, w, s);
  s = row5_4(r.r0, w, s);
  s = row5_4(r.r1, w + 10, s);
  s = row5_4(r.r2, w + 20, s);
  s = row5_4(r.r3, w + 30, s);
  return row5_4(r.r4, w + 40, s);
}

static inline __attribute__((always_inline)) void store_4(sums_4 s, const requant* t, int8_t* out, int32_t count,
                                                          output_range range, int full, int folded) {
  if (count == 4 && folded) { /* the fields loaded first: the int8 stores below may alias the table */
    const int32_t m0 = t[0].multiplier, offset0 = t[0].offset, right0 = t[0].right;
    const int32_t m1 = t[1].multiplier, offset1 = t[1].offset, right1 = t[1].right;
    const int32_t m2 = t[2].multiplier, offset2 = t[2].offset, right2 = t[2].right;
    const int32_t m3 = t[3].multiplier, offset3 = t[3].offset, right3 = t[3].right;
    out[0] = requantize_fast(s.c0, m0, offset0, right0, 0, range, full, 0);
    out[1] = requantize_fast(s.c1, m1, offset1, right1, 0, range, full, 0);
    out[2] = requantize_fast(s.c2, m2, offset2, right2, 0, range, full, 0);
    out[3] = requantize_fast(s.c3, m3, offset3, right3, 0, range, full, 0);
  } else {
    const int32_t sums[4] = {s.c0, s.c1, s.c2, s.c3};
    int32_t k;
    for (k = 0; k < count; ++k) out[k] = requantize(&t[k], sums[k], range, full);
  }
}

/* One output row: rows[ky] points at the first window's first column in lane row ky, group 0. */
static inline __attribute__((always_inline)) void depthwise_row(const mnd_depthwise_params* p,
                                                                const int32_t* const* rows, lane_rows shape,
                                                                const requant* t, int8_t* out, int full, int folded,
                                                                int32_t k) {
  const output_range range = {p->act_min, p->act_max};
  const int32_t channels = p->out_c, whole = channels & ~3, step = 2 * p->stride_w;
  const int32_t group_words = 2 * shape.width, skip = group_words * (whole / 4);
  int8_t* const end = out + p->out_w * channels;
  window_rows r = {rows[0], rows[1], rows[2], k == 5 ? rows[3] : 0, k == 5 ? rows[4] : 0};
  for (; out != end; r = advance(r, step - skip, k)) {
    const int32_t* w = (const int32_t*)(const void*)p->weights;
    const requant* g = t;
    int8_t* const group_end = out + whole;
    for (; out != group_end; out += 4, g += 4, w += 2 * k * k, r = advance(r, group_words, k)) {
      const sums_4 s = {g[0].bias, g[1].bias, g[2].bias, g[3].bias};
      store_4(window_k(r, w, s, k), g, out, 4, range, full, folded);
    }
    if (whole < channels) {
      const sums_4 s = {g[0].bias, g[1].bias, g[2].bias, g[3].bias};
      store_4(window_k(r, w, s, k), g, out, channels - whole, range, full, 0);
      out += channels - whole;
    }
  }
}

static inline __attribute__((always_inline)) void depthwise_row_any(const mnd_depthwise_params* p,
                                                                    const int32_t* const* rows, lane_rows shape,
                                                                    const requant* t, int folded, int8_t* out,
                                                                    int32_t k) {
  if (!full_range(p->act_min, p->act_max))
    depthwise_row(p, rows, shape, t, out, 0, 0, k);
  else if (folded)
    depthwise_row(p, rows, shape, t, out, 1, 1, k);
  else
    depthwise_row(p, rows, shape, t, out, 1, 0, k);
}

static inline __attribute__((always_inline)) void depthwise_dsp(const mnd_depthwise_params* p, const int8_t* input,
                                                                int8_t* output, void* scratch, int32_t k) {
  const int32_t groups = (p->out_c + 3) / 4;
  const lane_rows shape = {groups, (p->out_w - 1) * p->stride_w + k,
                           (int32_t)(((uint32_t)p->input_zero_point & 0xffffu) | ((uint32_t)p->input_zero_point << 16))};
  requant* table = (requant*)scratch;
  int32_t* slots = (int32_t*)(table + 4 * groups);
  const int32_t slot_words = 2 * groups * shape.width;
  int32_t held[MAX_K] = {-1, -1, -1, -1, -1}; /* the padded row each slot holds */
  int32_t oy, ky;
  const int folded = requant_table(p->multiplier, p->shift, p->bias, k * k, p->out_c, 4 * groups,
                                   p->output_zero_point, table) == REQUANT_FOLDED;
  for (oy = 0; oy < p->out_h; ++oy) {
    const int32_t* rows[MAX_K];
    for (ky = 0; ky < k; ++ky) {
      const int32_t padded = oy * p->stride_h + ky, slot = padded % k;
      if (held[slot] != padded) {
        widen_row(p, input, padded - p->pad_top, shape, slots + slot * slot_words);
        held[slot] = padded;
      }
      rows[ky] = slots + slot * slot_words;
    }
    depthwise_row_any(p, rows, shape, table, folded, output + oy * p->out_w * p->out_c, k);
  }
}

void mnd_depthwise3x3_dsp_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch) {
  depthwise_dsp(p, input, output, scratch, 3);
}

void mnd_depthwise5x5_dsp_s8(const mnd_depthwise_params* p, const int8_t* input, int8_t* output, void* scratch) {
  depthwise_dsp(p, input, output, scratch, 5);
}
