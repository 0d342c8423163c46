/* 3x3 DEPTHWISE_CONV_2D on a plane per channel, for Helium (Cortex-M55, M85), bit-exact with kernels.c; weights
 * and scratch sizes from engine/layouts_mve.py. Without MVE this file compiles to nothing. */
#include "kernels.h"

#if defined(__ARM_FEATURE_MVE)
#include "kernels_mve_common.h"

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

/* Copies `count` bytes `step` apart to dst, eight at a time (a tail-predicated loop: the last gather and store
 * only touch the lanes left). */
static inline void gather_span(const int8_t* src, int8_t* dst, int32_t count, int32_t step, uint16x8_t offsets) {
  const int32_t advance = 8 * step;
  if (count <= 0) return;
  __asm__ volatile("wlstp.16 lr, %[n], 2f\n"
                   "1:\n\t"
                   "vldrb.u16 q0, [%[src], %q[offsets]]\n\t"
                   "add %[src], %[src], %[advance]\n\t"
                   "vstrb.16 q0, [%[dst]], #8\n\t"
                   "letp lr, 1b\n"
                   "2:"
                   : [src] "+r"(src), [dst] "+l"(dst) /* a narrowing store takes a low base register */
                   : [n] "r"(count), [offsets] "w"(offsets), [advance] "r"(advance)
                   : "q0", "lr", "memory");
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

/* One output row's `count` >= 1 sums requantized to out, out + channels, ... (offsets: 0, 1, 2, 3 channels), as
 * requantize_channel, in a tail-predicated loop (the last block's loads and stores only touch the lanes left). */
#define REQUANTIZE_ROW_LOOP(LEFT)                                                                                    \
  __asm__ volatile("dlstp.32 lr, %[n]\n"                                                                            \
                   "1:\n\t"                                                                                         \
                   "vldrw.u32 q0, [%[sums]], #16\n\t" LEFT                                                          \
                   "vqrdmulh.s32 q0, q0, %[multiplier]\n\t"                                                         \
                   "vshr.s32 q1, q0, #31\n\tvmla.s32 q0, q1, %[round_fix]\n\t"                                     \
                   "vrshl.s32 q0, %[right]\n\t"                                                                     \
                   "vadd.i32 q0, q0, %[zero_point]\n\tvmax.s32 q0, q0, %q[low]\n\tvmin.s32 q0, q0, %q[high]\n\t"    \
                   "vstrb.32 q0, [%[out], %q[offsets]]\n\t"                                                         \
                   "add %[out], %[out], %[step]\n\t"                                                                \
                   "letp lr, 1b"                                                                                   \
                   : [sums] "+r"(sums), [out] "+r"(out)                                                            \
                   : [n] "r"(count), [multiplier] "r"(r->multiplier), [round_fix] "r"(r->round_fix),                \
                     [right] "r"(r->right), [left] "r"(r->left), [zero_point] "r"(range.zero_point),               \
                     [low] "w"(low), [high] "w"(high), [offsets] "w"(offsets), [step] "r"(block_step)               \
                   : "q0", "q1", "lr", "memory")

static inline __attribute__((always_inline)) void requantize_row(const int32_t* sums, int32_t count,
                                                                 const channel_requant* r, output_range range,
                                                                 int8_t* out, uint32x4_t offsets, int32_t block_step,
                                                                 int left) {
  const int32x4_t low = vdupq_n_s32(range.act_min), high = vdupq_n_s32(range.act_max);
  if (left)
    REQUANTIZE_ROW_LOOP("vshl.s32 q0, %[left]\n\t");
  else
    REQUANTIZE_ROW_LOOP("");
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

static inline __attribute__((always_inline)) void requantize_band(const int32_t* sums, const band_block* table,
                                                                  int32_t blocks, const channel_requant* r,
                                                                  output_range range, int8_t* out, int left) {
  for (; blocks > 0; --blocks, sums += 4, ++table)
    vstrbq_scatter_offset_p_s32(out, vldrwq_u32(table->offsets),
                                requantize_channel(vldrwq_s32(sums), r, range, left), (mve_pred16_t)table->lanes);
}

/* `left`: whether any channel of the layer shifts left (a constant where inlined: most layers have none). */
static inline __attribute__((always_inline)) void channel_body(const mnd_depthwise_params* p, int32_t c,
                                                               const plane_shape* s, const int8_t* plane,
                                                               int32_t* sums, const band_block* band, int8_t* output,
                                                               int left) {
  const channel_requant r = channel_requant_of(p->multiplier, p->shift, p->bias, c);
  const output_range range = {p->output_zero_point, p->act_min, p->act_max};
  const uint32x4_t offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)p->out_c);
  const int32_t row_bytes = p->out_w * p->out_c;
  const int8_t* taps[9];
  int32_t oy, row, k;
  output += c;
  for (oy = 0; oy < p->out_h; oy += s->band) {
    const int32_t rows = p->out_h - oy < s->band ? p->out_h - oy : s->band, at = oy * s->pitch;
    if (p->stride_w == 1) {
      channel_sums_unit(plane + s->taps[0] + at, plane + s->taps[3] + at, plane + s->taps[6] + at,
                        p->weights + 9 * c, r.bias, (rows * s->pitch + 3) / 4, sums);
    } else {
      for (k = 0; k < 9; ++k) taps[k] = plane + s->taps[k] + at;
      channel_sums(taps, p->weights + 9 * c, r.bias, (rows * s->pitch + 3) / 4, sums);
    }
    if (rows == s->band && band_table_pays(p)) {
      requantize_band(sums, band, band_blocks(s), &r, range, output, left);
      output += rows * row_bytes;
      continue;
    }
    for (row = 0; row < rows; ++row, output += row_bytes)
      requantize_row(sums + row * s->pitch, p->out_w, &r, range, output, offsets, 4 * p->out_c, left);
  }
}

static void depthwise_channel(const mnd_depthwise_params* p, int32_t c, const plane_shape* s, const int8_t* plane,
                              int32_t* sums, const band_block* band, int8_t* output, int left) {
  if (left)
    channel_body(p, c, s, plane, sums, band, output, 1);
  else
    channel_body(p, c, s, plane, sums, band, output, 0);
}

static int any_shifts_left(const mnd_depthwise_params* p) {
  int32_t c;
  for (c = 0; c < p->out_c; ++c)
    if (p->shift[c] > 0) return 1;
  return 0;
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
  const int by_table = table_gather_pays(p), left = any_shifts_left(p);
  int32_t c;
  fill_bytes(plane, (int8_t)p->input_zero_point, plane_bytes);
  if (band_table_pays(p)) fill_band_table(p, &s, band);
  if (by_table) fill_scatter_table(p, &s, inside, table);
  for (c = 0; c < p->out_c; ++c) {
    if (by_table)
      scatter_channel(p, input, c, table, plane);
    else
      gather_channel(p, input, c, &s, plane);
    depthwise_channel(p, c, &s, plane, sums, band, output, left);
  }
}

#endif
