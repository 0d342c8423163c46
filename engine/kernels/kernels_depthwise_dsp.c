/* KxK DEPTHWISE_CONV_2D (K = 3 or 5) for cores with the DSP extension (Cortex-M4, M7, M33, M55): SMLABB/SMLATT
 * multiply-accumulate the int16 lanes SXTB16 widens, four channels per word. Bit-exact with the portable kernels
 * in kernels.c; weights rearranged ahead of time by engine/layouts.py. C versions of the instructions where the
 * DSP extension is missing (a host build, for diagnosis). */
#include <string.h>

#include "kernels.h"
#include "kernels_dsp.h"
#include "kernels_depthwise_dsp_asm.h"
#include "kernels_dsp_requant.h"

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

static inline void fill_zero(int32_t* lanes, int32_t columns, int32_t zero_lanes) {
  for (; columns > 0; --columns, lanes += 2) lanes[0] = lanes[1] = zero_lanes;
}

/* One group's `count` pixels from `pixel` on (`channels` bytes apart; four a turn, their loads back to back) into
 * consecutive columns of lanes. */
static inline __attribute__((always_inline)) void widen_group(const int8_t* pixel, int32_t channels, int32_t count,
                                                              int32_t* lanes) {
  int32_t* const quads_end = lanes + 2 * (count & ~3);
  int32_t* const pairs_end = lanes + 2 * (count & ~1);
  for (; lanes != quads_end; lanes += 8, pixel += 4 * channels) {
    const int32_t w0 = load_word(pixel), w1 = load_word(pixel + channels);
    const int32_t w2 = load_word(pixel + 2 * channels), w3 = load_word(pixel + 3 * channels);
    lanes[0] = sxtb16_even(w0);
    lanes[1] = sxtb16_odd(w0);
    lanes[2] = sxtb16_even(w1);
    lanes[3] = sxtb16_odd(w1);
    lanes[4] = sxtb16_even(w2);
    lanes[5] = sxtb16_odd(w2);
    lanes[6] = sxtb16_even(w3);
    lanes[7] = sxtb16_odd(w3);
  }
  if (lanes != pairs_end) {
    const int32_t word = load_word(pixel), next = load_word(pixel + channels);
    lanes[0] = sxtb16_even(word);
    lanes[1] = sxtb16_odd(word);
    lanes[2] = sxtb16_even(next);
    lanes[3] = sxtb16_odd(next);
    lanes += 4;
    pixel += 2 * channels;
  }
  if (count & 1) {
    const int32_t word = load_word(pixel);
    lanes[0] = sxtb16_even(word);
    lanes[1] = sxtb16_odd(word);
  }
}

/* The padding columns (left and right of the image) of `rows` lane rows set to the zero point. */
static void fill_padding(const mnd_depthwise_params* p, lane_rows shape, int32_t* lanes, int32_t rows) {
  const int32_t width = shape.width, first = p->pad_left < width ? p->pad_left : width;
  const int32_t last = p->pad_left + p->in_w < width ? p->pad_left + p->in_w : width;
  for (; rows > 0; --rows, lanes += 2 * width) {
    fill_zero(lanes, first, shape.zero_lanes);
    fill_zero(lanes + 2 * last, width - last, shape.zero_lanes);
  }
}

/* Padded input row `y` into `row`, [groups][width][2] words, group by group: the columns inside the image only (the
 * padding columns of every slot hold the zero point from the start: fill_padding, once a call); a row outside
 * the image is the zero point there too. */
static void widen_row(const mnd_depthwise_params* p, const int8_t* input, int32_t y, lane_rows shape, int32_t* row) {
  const int32_t channels = p->in_c, width = shape.width, whole = channels & ~3;
  const int32_t first = p->pad_left < width ? p->pad_left : width;
  const int32_t last = p->pad_left + p->in_w < width ? p->pad_left + p->in_w : width;
  const int8_t* const pixel = input + (y * p->in_w + first - p->pad_left) * channels;
  int32_t g, column;
  row += 2 * first;
  if (y < 0 || y >= p->in_h) {
    for (g = 0; g < shape.groups; ++g, row += 2 * width) fill_zero(row, last - first, shape.zero_lanes);
    return;
  }
  for (g = 0; g < whole; g += 4, row += 2 * width) widen_group(pixel + g, channels, last - first, row);
  if (whole < channels) {
    const int8_t* tail = pixel;
    for (column = first; column < last; ++column, tail += channels, row += 2) {
      const int32_t word = last_group_word(tail, whole, channels);
      row[0] = sxtb16_even(word);
      row[1] = sxtb16_odd(word);
    }
  }
}

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

/* The three filter rows of one lane pair's sums a, b at two output columns: lane_at 0 (channels 0 and 2) or 4
 * (channels 1 and 3), the byte offset of its words from a row's and from a filter row's first (the rows' weights
 * 24 bytes apart); stride _S1 or _S2. A macro: ROW_PAIR's offsets reach its assembly as text. */
#define LANES_PAIR(r, w, a, b, lane_at, stride)                  \
  do {                                                           \
    ROW_PAIR((r).r0, w, a, b, lane_at, lane_at, stride);         \
    ROW_PAIR((r).r1, w, a, b, lane_at, lane_at + 24, stride);    \
    ROW_PAIR((r).r2, w, a, b, lane_at, lane_at + 48, stride);    \
  } while (0)

/* The 3x3 windows at two output columns (stride 1 or 2, a constant) of four channels: a, b start as the biases. */
static inline __attribute__((always_inline)) void window_pair(window_rows r, const int32_t* w, sums_4* a, sums_4* b,
                                                              int32_t stride) {
  lane_sums even_a = {a->c0, a->c2}, even_b = {b->c0, b->c2}, odd_a = {a->c1, a->c3}, odd_b = {b->c1, b->c3};
  if (stride == 1) {
    LANES_PAIR(r, w, even_a, even_b, 0, _S1);
    LANES_PAIR(r, w, odd_a, odd_b, 4, _S1);
  } else {
    LANES_PAIR(r, w, even_a, even_b, 0, _S2);
    LANES_PAIR(r, w, odd_a, odd_b, 4, _S2);
  }
  a->c0 = even_a.low, a->c2 = even_a.high, a->c1 = odd_a.low, a->c3 = odd_a.high;
  b->c0 = even_b.low, b->c2 = even_b.high, b->c1 = odd_b.low, b->c3 = odd_b.high;
}

/* The weights are doubled (layouts.depthwise_dsp), so a sum is the bias plus twice the products: a folded layer's
 * table holds doubled biases (the whole sum doubled, what the rounding multiply takes), any other layer's its
 * biases as they are. The sum as the reference kernels have it (wrapping int32, as theirs). */
static inline __attribute__((always_inline)) int32_t undoubled(int32_t sum, int32_t bias, int folded) {
  if (folded) return sum >> 1;
  return (int32_t)((uint32_t)bias + (uint32_t)((int32_t)((uint32_t)sum - (uint32_t)bias) >> 1));
}

/* The four sums of a group requantized. Folded (every channel's zero point folded into its rounding offset): one
 * SSAT each, the four bytes packed into one word (clamped four bytes at once for a narrower activation range) and
 * stored with one STR. */
static inline __attribute__((always_inline)) void store_4(sums_4 s, const requant* t, int8_t* out, int32_t count,
                                                          output_range range, byte_bounds bounds, int full,
                                                          int folded) {
  if (count == 4 && folded) { /* the fields loaded first: the store below may alias the table */
    const int32_t m0 = t[0].multiplier, offset0 = t[0].offset, right0 = t[0].right;
    const int32_t m1 = t[1].multiplier, offset1 = t[1].offset, right1 = t[1].right;
    const int32_t m2 = t[2].multiplier, offset2 = t[2].offset, right2 = t[2].right;
    const int32_t m3 = t[3].multiplier, offset3 = t[3].offset, right3 = t[3].right;
    const int32_t v0 = requantize_folded(s.c0, m0, offset0, right0);
    const int32_t v1 = requantize_folded(s.c1, m1, offset1, right1);
    const int32_t v2 = requantize_folded(s.c2, m2, offset2, right2);
    const int32_t v3 = requantize_folded(s.c3, m3, offset3, right3);
    const uint32_t packed = pack_4(v0, v1, v2, v3); /* GCC's own merging of four byte stores spills */
    store_word(out, full ? packed : clamp_4(packed, bounds));
  } else {
    const int32_t sums[4] = {s.c0, s.c1, s.c2, s.c3};
    int32_t k;
    for (k = 0; k < count; ++k) out[k] = requantize(&t[k], undoubled(sums[k], t[k].bias, folded), range, full);
  }
}

/* store_4 of two columns' sums of the same four channels, `apart` bytes apart: in the folded case each channel's
 * fields are loaded once for both. */
static inline __attribute__((always_inline)) void store_4_pair(sums_4 a, sums_4 b, const requant* t, int8_t* out,
                                                               int32_t apart, output_range range, byte_bounds bounds,
                                                               int full, int folded) {
  if (folded) {
    const int32_t m0 = t[0].multiplier, offset0 = t[0].offset, right0 = t[0].right;
    const int32_t a0 = requantize_folded(a.c0, m0, offset0, right0), b0 = requantize_folded(b.c0, m0, offset0, right0);
    const int32_t m1 = t[1].multiplier, offset1 = t[1].offset, right1 = t[1].right;
    const int32_t a1 = requantize_folded(a.c1, m1, offset1, right1), b1 = requantize_folded(b.c1, m1, offset1, right1);
    const int32_t m2 = t[2].multiplier, offset2 = t[2].offset, right2 = t[2].right;
    const int32_t a2 = requantize_folded(a.c2, m2, offset2, right2), b2 = requantize_folded(b.c2, m2, offset2, right2);
    const int32_t m3 = t[3].multiplier, offset3 = t[3].offset, right3 = t[3].right;
    const int32_t a3 = requantize_folded(a.c3, m3, offset3, right3), b3 = requantize_folded(b.c3, m3, offset3, right3);
    const uint32_t packed_a = pack_4(a0, a1, a2, a3), packed_b = pack_4(b0, b1, b2, b3);
    store_word(out, full ? packed_a : clamp_4(packed_a, bounds));
    store_word(out + apart, full ? packed_b : clamp_4(packed_b, bounds));
  } else {
    store_4(a, t, out, 4, range, bounds, full, 0);
    store_4(b, t, out + apart, 4, range, bounds, full, 0);  /* a folded layer's pairs take the branch above */
  }
}

/* A full-range folded group's lanes `lane` (0: channels 0 and 2, 1: channels 1 and 3) of both columns: the three
 * filter rows, requantized and stored byte by byte before the other lanes' asm runs (nothing stays live across it,
 * and the asm's memory clobber keeps GCC from merging the byte stores through the stack). */
static inline __attribute__((always_inline)) void lanes_pair_stored(window_rows r, const int32_t* w, const requant* t,
                                                                    int8_t* out, int32_t apart, int32_t stride,
                                                                    int32_t lane) {
  lane_sums a = {t[lane].bias, t[lane + 2].bias}, b = a;
  if (stride == 1 && lane == 0)
    LANES_PAIR(r, w, a, b, 0, _S1);
  else if (stride == 1)
    LANES_PAIR(r, w, a, b, 4, _S1);
  else if (lane == 0)
    LANES_PAIR(r, w, a, b, 0, _S2);
  else
    LANES_PAIR(r, w, a, b, 4, _S2);
  {
    const int32_t m_low = t[lane].multiplier, offset_low = t[lane].offset, right_low = t[lane].right;
    const int32_t m_high = t[lane + 2].multiplier, offset_high = t[lane + 2].offset, right_high = t[lane + 2].right;
    out[lane] = (int8_t)requantize_folded(a.low, m_low, offset_low, right_low);
    out[apart + lane] = (int8_t)requantize_folded(b.low, m_low, offset_low, right_low);
    out[lane + 2] = (int8_t)requantize_folded(a.high, m_high, offset_high, right_high);
    out[apart + lane + 2] = (int8_t)requantize_folded(b.high, m_high, offset_high, right_high);
  }
}

/* The output row's column pairs (of a folded layer, 3x3, stride 1 or 2: a constant); r advanced past them. Returns
 * where the row's odd last column goes. */
static inline __attribute__((always_inline)) int8_t* column_pairs(const mnd_depthwise_params* p, window_rows* rows,
                                                                  lane_rows shape, const requant* t, int8_t* out,
                                                                  output_range range, byte_bounds bounds, int full,
                                                                  int32_t stride) {
  const int32_t channels = p->out_c, whole = channels & ~3;
  const int32_t group_words = 2 * shape.width, skip = group_words * (whole / 4);
  int8_t* const pairs_end = out + (p->out_w & ~1) * channels;
  window_rows r = *rows;
  for (; out != pairs_end; out += channels, r = advance(r, 4 * stride - skip, 3)) {
    const int32_t* w = (const int32_t*)(const void*)p->weights;
    const requant* g = t;
    int8_t* const group_end = out + whole;
    for (; out != group_end; out += 4, g += 4, w += 18, r = advance(r, group_words, 3)) {
      if (full) {
        lanes_pair_stored(r, w, g, out, channels, stride, 0);
        lanes_pair_stored(r, w, g, out, channels, stride, 1);
      } else {
        sums_4 a = {g[0].bias, g[1].bias, g[2].bias, g[3].bias}, b = a;
        window_pair(r, w, &a, &b, stride);
        store_4_pair(a, b, g, out, channels, range, bounds, full, 1);
      }
    }
    if (whole < channels) {
      sums_4 a = {g[0].bias, g[1].bias, g[2].bias, g[3].bias}, b = a;
      window_pair(r, w, &a, &b, stride);
      store_4(a, g, out, channels - whole, range, bounds, full, 1);
      store_4(b, g, out + channels, channels - whole, range, bounds, full, 1);
      out += channels - whole;
    }
  }
  *rows = r;
  return out;
}

/* One output row: rows[ky] points at the first window's first column in lane row ky, group 0. */
static inline __attribute__((always_inline)) void depthwise_row(const mnd_depthwise_params* p,
                                                                const int32_t* const* rows, lane_rows shape,
                                                                const requant* t, int8_t* out, int full, int folded,
                                                                int32_t k) {
  const output_range range = {p->act_min, p->act_max};
  const byte_bounds bounds = bounds_4(range);
  const int32_t channels = p->out_c, whole = channels & ~3, step = 2 * p->stride_w;
  const int32_t group_words = 2 * shape.width, skip = group_words * (whole / 4);
  int8_t* const end = out + p->out_w * channels;
  window_rows r = {rows[0], rows[1], rows[2], k == 5 ? rows[3] : 0, k == 5 ? rows[4] : 0};
  if (k == 3 && folded && !DUAL_ISSUE && p->stride_w <= 2) { /* column pairs; an odd last column below */
    if (p->stride_w == 1)
      out = column_pairs(p, &r, shape, t, out, range, bounds, full, 1);
    else
      out = column_pairs(p, &r, shape, t, out, range, bounds, full, 2);
  }
  for (; out != end; r = advance(r, step - skip, k)) {
    const int32_t* w = (const int32_t*)(const void*)p->weights;
    const requant* g = t;
    int8_t* const group_end = out + whole;
    for (; out != group_end; out += 4, g += 4, w += 2 * k * k, r = advance(r, group_words, k)) {
      const sums_4 s = {g[0].bias, g[1].bias, g[2].bias, g[3].bias};
      store_4(window_k(r, w, s, k), g, out, 4, range, bounds, full, folded);
    }
    if (whole < channels) {
      const sums_4 s = {g[0].bias, g[1].bias, g[2].bias, g[3].bias};
      store_4(window_k(r, w, s, k), g, out, channels - whole, range, bounds, full, folded);
      out += channels - whole;
    }
  }
}

/* A layer with some channel off the folded path (rare): one copy a kernel size, the range at run time. */
static __attribute__((noinline)) void depthwise_row_other3(const mnd_depthwise_params* p, const int32_t* const* rows,
                                                           lane_rows shape, const requant* t, int8_t* out) {
  depthwise_row(p, rows, shape, t, out, full_range(p->act_min, p->act_max), 0, 3);
}

static __attribute__((noinline)) void depthwise_row_other5(const mnd_depthwise_params* p, const int32_t* const* rows,
                                                           lane_rows shape, const requant* t, int8_t* out) {
  depthwise_row(p, rows, shape, t, out, full_range(p->act_min, p->act_max), 0, 5);
}

static inline __attribute__((always_inline)) void depthwise_row_any(const mnd_depthwise_params* p,
                                                                    const int32_t* const* rows, lane_rows shape,
                                                                    const requant* t, int folded, int8_t* out,
                                                                    int32_t k) {
  if (!folded && k == 3)
    depthwise_row_other3(p, rows, shape, t, out);
  else if (!folded)
    depthwise_row_other5(p, rows, shape, t, out);
  else if (full_range(p->act_min, p->act_max))
    depthwise_row(p, rows, shape, t, out, 1, 1, k);
  else
    depthwise_row(p, rows, shape, t, out, 0, 1, k);
}

/* requant_table's table for a layer whose every channel takes the folded path (a positive multiplier, a right shift
 * of 1 to MAX_FOLDED_RIGHT, a bias that fits one multiply), built in one pass, with the biases doubled (the sums
 * come out doubled: layouts.depthwise_dsp). Returns 0, the table unfinished, at the first other channel: the caller
 * builds the general table. */
static int folded_table(const mnd_depthwise_params* p, int32_t depth, int32_t entries, requant* table) {
  const uint32_t limit = (1u << 30) - ((uint32_t)depth << 14);
  const int32_t zero_point = p->output_zero_point;
  int32_t c;
  for (c = 0; c < p->out_c; ++c) {
    const int32_t multiplier = p->multiplier[c], right = -p->shift[c], bias = p->bias ? p->bias[c] : 0;
    const uint32_t magnitude = bias < 0 ? 0u - (uint32_t)bias : (uint32_t)bias;
    requant* r = &table[c];
    if (multiplier <= 0 || right < 1 || right > MAX_FOLDED_RIGHT || magnitude >= limit) return 0;
    r->bias = 2 * bias;
    r->multiplier = multiplier;
    r->offset = ((int32_t)1 << (right - 1)) + zero_point * ((int32_t)1 << right);
    r->right = right;
    r->extra = r->wide = 0;
  }
  for (; c < entries; ++c) { /* requant_entry's padding: multiplier 0, right 1 */
    requant* r = &table[c];
    r->bias = r->multiplier = r->extra = r->wide = 0;
    r->offset = 1 + 2 * zero_point;
    r->right = 1;
  }
  return 1;
}

/* requant_table for a layer with some other channel; a folded layer's biases doubled as folded_table's. */
static int general_table(const mnd_depthwise_params* p, int32_t depth, int32_t entries, requant* table) {
  const int folded = requant_table(p->multiplier, p->shift, p->bias, depth, p->out_c, entries, p->output_zero_point,
                                   table) == REQUANT_FOLDED;
  int32_t c;
  if (folded) /* |bias| < 2^30 on the one-multiply path: doubled, it fits */
    for (c = 0; c < entries; ++c) table[c].bias *= 2;
  return folded;
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
  const int folded = folded_table(p, k * k, 4 * groups, table) || general_table(p, k * k, 4 * groups, table);
  fill_padding(p, shape, slots, k * groups);
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
