/* CONV_2D as a GEMM (pointwise here; kernels_im2col_mve.c builds the rows of KxK windows) for cores with the
 * M-profile Vector Extension (Helium: Cortex-M55, M85), bit-exact with the portable kernels in kernels.c. Weights
 * come rearranged ahead of time (engine/layouts_mve.py); each call gets a 16-byte aligned scratch area planned in
 * the arena. See kernels.h. Without MVE this file compiles to nothing. */
#include "kernels.h"

#if defined(__ARM_FEATURE_MVE)
#include "kernels_gemm_mve.h"

/* ---- CONV_2D as a GEMM: four rows of `depth` int8 (pixels, or im2col rows) times one filter at a time ----
 * Weights (layouts_mve.gemm_mve): [out_c][depth] as TFLite stores them, then 16 zero bytes, so that a 16-byte load
 * from the last filter stays inside the array. Each 16 depth values cost one filter load, four row loads and four
 * VMLADAVA in a tail-predicated loop; the four sums of a channel are requantized together and scattered to the four
 * pixels' outputs. Up to 16 deep, the four rows stay in registers for every filter. */



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
  for (; table != end; ++table, ++out, w += b->w_step)
    store_channel(out, dot_four_rows(b, w, depth, table->bias), table, range, offsets, lanes, full, left);
}

/* ---- Up to 16 deep, whole blocks: the four rows stay in q0-q3 for every filter ----
 * An assembly loop over `blocks` blocks of four rows, row_step apart (pixels or im2col rows, one after the other),
 * and in each over the filters: one filter load, four VMLADAV, the channel's requantization from one LDM of its
 * channel_requant into the freed sum registers; the rounding fix of negative values is a VPT block, so that no
 * temporary vector is needed (q4-q7: the sums, the output offsets, the clamp). Partial blocks, which store under a
 * predicate, take gemm_block_short. The stack frame: [0] the fast_block, [4] the blocks left. */
#define SHORT_SHIFT_LEFT "vshl.s32 q4, r2\n\t"
#define GEMM_SHORT_BODY(LEFT)                                                                                        \
  __asm__("push {r4-r11, lr}\n\t"                                                                                    \
          "vpush {d8-d15}\n\t"                                                                                       \
          "sub sp, #8\n\tstr r0, [sp, #0]\n\tldr r1, [r0, #76]\n\tstr r1, [sp, #4]\n\t"                              \
          "vldrw.u32 q5, [r0, #40]\n\t"                                                                              \
          "ldr r1, [r0, #60]\n\tvdup.32 q6, r1\n\t"                                                                  \
          "ldr r1, [r0, #64]\n\tvdup.32 q7, r1\n\t"                                                                  \
          "ldr r12, [r0, #32]\n\tldr r5, [r0, #56]\n\tldr r11, [r0, #0]\n\tldr r7, [r0, #24]\n"                      \
          "2:\n\t"                                                                                                   \
          "ldr r0, [sp, #0]\n\tldr r6, [r0, #80]\n\t"                                                                \
          "add r1, r11, r6\n\tadd r3, r1, r6\n\tadd r8, r3, r6\n\tvctp.8 r12\n\t"                                    \
          "vpstttt\n\tvldrbt.8 q0, [r11]\n\tvldrbt.8 q1, [r1]\n\tvldrbt.8 q2, [r3]\n\tvldrbt.8 q3, [r8]\n\t"         \
          "ldrd r10, r9, [r0, #16]\n\tldr lr, [r0, #28]\n\t"                                                         \
          "dls lr, lr\n"                                                                                             \
          "1:\n\t"                                                                                                   \
          "vldrb.u8 q4, [r10]\n\tadd r10, r10, r12\n\t"                                                              \
          "vmladav.s8 r0, q0, q4\n\tvmladav.s8 r2, q1, q4\n\tvmladav.s8 r4, q2, q4\n\tvmladav.s8 r6, q3, q4\n\t"     \
          "vmov q4[2], q4[0], r0, r4\n\tvmov q4[3], q4[1], r2, r6\n\t"                                               \
          "ldm r9!, {r0, r2, r4, r6, r8}\n\t" /* multiplier, left, right, round_fix, bias */                        \
          "vadd.i32 q4, q4, r8\n\t" LEFT "vqrdmulh.s32 q4, q4, r0\n\t"                                               \
          "vpt.s32 lt, q4, zr\n\tvsubt.i32 q4, q4, r6\n\t"                                                           \
          "vrshl.s32 q4, r4\n\t"                                                                                     \
          "vadd.i32 q4, q4, r5\n\tvmax.s32 q4, q4, q6\n\tvmin.s32 q4, q4, q7\n\t"                                    \
          "vstrb.32 q4, [r7, q5]\n\t"                                                                                \
          "adds r7, #1\n\t"                                                                                          \
          "le lr, 1b\n\t"                                                                                            \
          "ldr r0, [sp, #0]\n\tldr r6, [r0, #80]\n\tadd r11, r11, r6, lsl #2\n\t"                                    \
          "ldr r1, [r0, #28]\n\tadd r1, r1, r1, lsl #1\n\tadd r7, r7, r1\n\t" /* past the block's other pixels */    \
          "ldr r1, [sp, #4]\n\tsubs r1, r1, #1\n\tstr r1, [sp, #4]\n\tbne 2b\n\t"                                    \
          "add sp, #8\n\t"                                                                                           \
          "vpop {d8-d15}\n\t"                                                                                        \
          "pop {r4-r11, pc}")

static __attribute__((naked, noinline)) void gemm_short_left(const fast_block* b) {
  GEMM_SHORT_BODY(SHORT_SHIFT_LEFT);
}

static __attribute__((naked, noinline)) void gemm_short_plain(const fast_block* b) { GEMM_SHORT_BODY(""); }

/* `blocks` >= 1 whole blocks from `rows` on, row_step apart, to `out` on. */
static void gemm_short_blocks(const mnd_conv_params* p, const channel_requant* table, const int8_t* rows,
                              int32_t row_step, int8_t* out, int32_t blocks, int left) {
  fast_block f;
  int32_t i;
  for (i = 0; i < 4; ++i) f.offsets[i] = (uint32_t)(i * p->out_c);
  f.rows[0] = rows;
  f.row_step = row_step;
  f.blocks = blocks;
  f.weights = p->weights;
  f.table = table;
  f.out = out;
  f.loops = p->out_c;
  f.depth = p->k_h * p->k_w * p->in_c;
  f.zero_point = p->output_zero_point;
  f.act_min = p->act_min;
  f.act_max = p->act_max;
  if (left)
    gemm_short_left(&f);
  else
    gemm_short_plain(&f);
}

/* One variant per depth class, whole or partial block, and left shifts or none. */
void mnd_mve_gemm_block(const mnd_conv_params* p, const channel_requant* table, const row_block* b, int left) {
  const int short_depth = p->k_h * p->k_w * p->in_c <= 16, full = b->count == 4;
  if (short_depth) {
    if (full) gemm_short_blocks(p, table, b->rows[0], (int32_t)(b->rows[1] - b->rows[0]), b->out, 1, left);
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
int mnd_mve_fill_requant_table(const mnd_conv_params* p, channel_requant* table) {
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

/* ---- GEMM fast path: filters in pairs, whole 16-byte depths from 32, blocks of four rows ----
 * The weights of each pair of filters interleave 16 bytes at a time (layouts_mve.pointwise_mve / im2col_mve). One
 * assembly loop over the pairs keeps the eight sums in the even registers (VMLADAV's), r0-r6 for the first filter
 * and r8-lr for the second, the rows in r1, r3, r5, r7 and the filters in r9: each 16 depth values cost two filter
 * loads, four row loads and eight VMLADAVA. A channel's requantization is one LDM of its channel_requant record
 * into the freed sum registers; the rest of the state lives in a stack frame (below). */


/* Loads and multiply-accumulates alternate where they can (a beat overlap on the M55); q3 and q4 are free here. */
#define MAC_ROWS(OP)                                                                                                 \
  "vldrb.8 q0, [r9], #32\n\tvldrb.8 q2, [r1], #16\n\t" OP " r0, q2, q0\n\t"                                      \
  "vldrb.8 q1, [r9, #-16]\n\t" OP " r8, q2, q1\n\t"                                                                \
  "vldrb.8 q3, [r3], #16\n\t" OP " r2, q3, q0\n\t"                                                                 \
  "vldrb.8 q4, [r5], #16\n\t" OP " r10, q3, q1\n\t"                                                                \
  "vldrb.8 q2, [r7], #16\n\t" OP " r4, q4, q0\n\t" OP " r12, q4, q1\n\t" OP " r6, q2, q0\n\t" OP " lr, q2, q1\n\t"

/* q: the channel's four sums; r11: its output; r10: its record, then the next one */
#define REQUANTIZE_STORE(Q, STORE, LEFT)                                                                             \
  "ldm r10!, {r0, r2, r4, r6, r8}\n\t" /* multiplier, left, right, round_fix, bias */                              \
  "vadd.i32 " Q ", " Q ", r8\n\t" LEFT(Q) "vqrdmulh.s32 " Q ", " Q ", r0\n\t"                                  \
  "vshr.s32 q0, " Q ", #31\n\tvmla.s32 " Q ", q0, r6\n\tvrshl.s32 " Q ", r4\n\t"                                   \
  "vadd.i32 " Q ", " Q ", r12\n\tvmax.s32 " Q ", " Q ", q6\n\tvmin.s32 " Q ", " Q ", q7\n\t"                       \
  STORE(Q) "add r11, r11, #1\n\t"

#define STORE_ALL(Q) "vstrb.32 " Q ", [r11, q5]\n\t"
#define STORE_LANES(Q) "vpst\n\tvstrbt.32 " Q ", [r11, q5]\n\t"

#define SHIFT_LEFT(Q) "vshl.s32 " Q ", r2\n\t"
#define NO_SHIFT(Q) ""

/* The stack frame: [0] table, [4] out, [8] the table's end, [12] depth, [16] the loop count, [20] the zero point. */
#define GEMM_PAIRS_BODY(STORE, LEFT)                                                                                 \
  __asm__("push {r4-r11, lr}\n\t"                                                                                    \
          "vpush {d8-d15}\n\t"                                                                                       \
          "sub sp, #24\n\t"                                                                                          \
          "vldrw.u32 q5, [r0, #40]\n\t"                                                                              \
          "ldr r1, [r0, #60]\n\tvdup.32 q6, r1\n\t"                                                                  \
          "ldr r1, [r0, #64]\n\tvdup.32 q7, r1\n\t"                                                                  \
          "ldr r1, [r0, #68]\n\tvmsr p0, r1\n\t"                                                                     \
          "ldrd r1, r2, [r0, #20]\n\tstrd r1, r2, [sp, #0]\n\t"                                                      \
          "ldrd r1, r2, [r0, #28]\n\tstrd r1, r2, [sp, #8]\n\t"                                                      \
          "add r1, r1, r1, lsl #2\n\tldr r2, [r0, #20]\n\tadd r1, r2, r1, lsl #3\n\tstr r1, [sp, #8]\n\t"             \
          "ldr r1, [r0, #36]\n\tstr r1, [sp, #16]\n\t"                                                               \
          "ldr r1, [r0, #56]\n\tstr r1, [sp, #20]\n\t"                                                               \
          "ldr r9, [r0, #16]\n\t"                                                                                    \
          "ldrd r1, r3, [r0, #0]\n\t"                                                                                \
          "ldrd r5, r7, [r0, #8]\n"                                                                                  \
          "1:\n\t" MAC_ROWS("vmladav.s8")                                                                           \
          "ldr r11, [sp, #16]\n\tlsrs r11, r11, #1\n\tbcc 3f\n\t" /* an odd count: one step, then two a time */       \
          MAC_ROWS("vmladava.s8") "3:\n\tbeq 4f\n"                                                                  \
          "2:\n\t" MAC_ROWS("vmladava.s8") MAC_ROWS("vmladava.s8") "subs r11, r11, #1\n\tbne 2b\n"                   \
          "4:\n\t"                                                                                                   \
          "vmov q3[2], q3[0], r0, r4\n\tvmov q3[3], q3[1], r2, r6\n\t"                                               \
          "vmov q4[2], q4[0], r8, r12\n\tvmov q4[3], q4[1], r10, lr\n\t"                                             \
          "ldr r10, [sp, #0]\n\tldr r11, [sp, #4]\n\tldr r12, [sp, #20]\n\t"                                         \
          REQUANTIZE_STORE("q3", STORE, LEFT) REQUANTIZE_STORE("q4", STORE, LEFT)                                    \
          "str r10, [sp, #0]\n\tstr r11, [sp, #4]\n\t"                                                               \
          "ldr r0, [sp, #12]\n\t"                                                                                    \
          "subs r1, r1, r0\n\tsubs r3, r3, r0\n\tsubs r5, r5, r0\n\tsubs r7, r7, r0\n\t"                             \
          "ldr r0, [sp, #8]\n\tcmp r10, r0\n\t"                                                                      \
          "bne 1b\n\t"                                                                                               \
          "add sp, #24\n\t"                                                                                          \
          "vpop {d8-d15}\n\t"                                                                                        \
          "pop {r4-r11, pc}")

static __attribute__((naked, noinline)) void gemm_pairs_full(const fast_block* b) {
  GEMM_PAIRS_BODY(STORE_ALL, NO_SHIFT);
}

static __attribute__((naked, noinline)) void gemm_pairs_full_left(const fast_block* b) {
  GEMM_PAIRS_BODY(STORE_ALL, SHIFT_LEFT);
}

/* The last block, fewer than four pixels: stores only the block's lanes (p0, which nothing else here changes). */
static __attribute__((naked, noinline)) void gemm_pairs_partial(const fast_block* b) {
  GEMM_PAIRS_BODY(STORE_LANES, NO_SHIFT);
}

static __attribute__((naked, noinline)) void gemm_pairs_partial_left(const fast_block* b) {
  GEMM_PAIRS_BODY(STORE_LANES, SHIFT_LEFT);
}

/* Whether pointwise weights come in pairs (layouts_mve.pairs_fit); up to 16 deep, the short path (rows in
 * registers) is faster. */
static inline int pointwise_pairs_fit(const mnd_conv_params* p) {
  return p->in_c % 16 == 0 && p->in_c >= 32 && p->out_c % 2 == 0;
}

/* A fast_block for the layer, `depth` bytes apart in its filters and rows, but for the block's rows, out and lanes. */
void mnd_mve_fast_block_init(fast_block* b, const mnd_conv_params* p, int32_t depth, const channel_requant* table,
                             int left) {
  int32_t i;
  b->left = left;
  b->weights = p->weights;
  b->table = table;
  b->loops = p->out_c / 2;
  b->depth = depth;
  b->rest = depth / 16 - 1;
  for (i = 0; i < 4; ++i) b->offsets[i] = (uint32_t)(i * p->out_c);
  b->zero_point = p->output_zero_point;
  b->act_min = p->act_min;
  b->act_max = p->act_max;
}

/* All out_c channels of a block of `count` pixels (rows past it repeat the last one). */
void mnd_mve_fast_block_run(fast_block* b, const int8_t* const rows[4], int8_t* out, int32_t count) {
  int32_t i;
  for (i = 0; i < 4; ++i) b->rows[i] = rows[i];
  b->out = out;
  b->lanes = vctp32q((uint32_t)count);
  if (count == 4)
    (b->left ? gemm_pairs_full_left : gemm_pairs_full)(b);
  else
    (b->left ? gemm_pairs_partial_left : gemm_pairs_partial)(b);
}

static void pointwise_pairs(const mnd_conv_params* p, const int8_t* input, int8_t* output, const channel_requant* table,
                            int left) {
  const int32_t pixels = p->out_h * p->out_w, in_c = p->in_c;
  fast_block b;
  int32_t pixel, i;
  mnd_mve_fast_block_init(&b, p, in_c, table, left);
  for (pixel = 0; pixel < pixels; pixel += 4) {
    const int32_t count = pixels - pixel < 4 ? pixels - pixel : 4;
    const int8_t* rows[4];
    for (i = 0; i < 4; ++i) rows[i] = input + (pixel + (i < count ? i : count - 1)) * in_c;
    mnd_mve_fast_block_run(&b, rows, output + pixel * p->out_c, count);
  }
}

void mnd_pointwise_mve_s8(const mnd_conv_params* p, const int8_t* input, int8_t* output, void* scratch) {
  channel_requant* table = (channel_requant*)scratch;
  const int32_t pixels = p->out_h * p->out_w, in_c = p->in_c;
  int32_t pixel = 0, i;
  const int left = mnd_mve_fill_requant_table(p, table);
  if (pointwise_pairs_fit(p)) {
    pointwise_pairs(p, input, output, table, left);
    return;
  }
  if (in_c <= 16 && pixels >= 4) { /* the whole blocks in one call, then the last pixels */
    gemm_short_blocks(p, table, input, in_c, output, pixels / 4, left);
    pixel = pixels & ~3;
  }
  for (; pixel < pixels; pixel += 4) {
    row_block b;
    b.count = pixels - pixel < 4 ? pixels - pixel : 4;
    b.out = output + pixel * p->out_c;
    b.w_step = in_c;
    for (i = 0; i < 4; ++i) b.rows[i] = input + (pixel + (i < b.count ? i : b.count - 1)) * in_c;
    mnd_mve_gemm_block(p, table, &b, left);
  }
}

#endif
