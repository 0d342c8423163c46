/* Private to the MVE GEMM kernels (kernels_conv_mve.c, kernels_im2col_mve.c): blocks of four rows times the
 * filters, and the fast path's arguments. Not part of the kernels' interface (kernels.h). Include it only under
 * __ARM_FEATURE_MVE. */
#ifndef MND_KERNELS_GEMM_MVE_H_
#define MND_KERNELS_GEMM_MVE_H_

#include "kernels_mve_common.h"

typedef struct {
  const int8_t* rows[4];
  int8_t* out;      /* the first pixel's output */
  int32_t count;    /* pixels in this block, 1..4; rows past it repeat the last one */
  int32_t w_step;   /* from one filter to the next (beyond 16 deep, im2col filters are padded to whole vectors) */
} row_block;

typedef struct {
  const int8_t* rows[4];        /* 0: the block's four rows */
  const int8_t* weights;        /* 16 */
  const channel_requant* table; /* 20 */
  int8_t* out;                  /* 24: the first pixel's output */
  int32_t loops;                /* 28: the pairs of filters (out_c / 2), or the filters up to 16 deep */
  int32_t depth;                /* 32 */
  int32_t rest;                 /* 36: depth / 16 - 1, at least 1: the steps after the first */
  uint32_t offsets[4];          /* 40: the pixels' output offsets, 0, out_c, 2 out_c, 3 out_c */
  int32_t zero_point, act_min, act_max; /* 56, 60, 64 */
  uint32_t lanes;               /* 68: the predicate of the pixels in the block */
  int32_t left;                 /* 72: whether any channel shifts left */
  int32_t blocks;               /* 76: up to 16 deep, the whole blocks from rows[0] on */
  int32_t row_step;             /* 80: up to 16 deep, from one row to the next */
} fast_block;

_Static_assert(__builtin_offsetof(fast_block, weights) == 16 && __builtin_offsetof(fast_block, rest) == 36 &&
                   __builtin_offsetof(fast_block, blocks) == 76 && __builtin_offsetof(fast_block, row_step) == 80 &&
                   __builtin_offsetof(fast_block, offsets) == 40 && __builtin_offsetof(fast_block, lanes) == 68 &&
                   sizeof(channel_requant) == 20,
               "the GEMM fast path's assembly reads fast_block and channel_requant at these offsets");

/* Fills the requantization table (channel_requant per output channel); returns whether any channel shifts left. */
int mnd_mve_fill_requant_table(const mnd_conv_params* p, channel_requant* table);

/* All out_c channels of a block of rows, filters as layouts_mve.gemm_mve (w_step apart). */
void mnd_mve_gemm_block(const mnd_conv_params* p, const channel_requant* table, const row_block* b, int left);

/* The fast path (filters in pairs): a fast_block for the layer, `depth` bytes apart in its filters and rows; then
 * all out_c channels of a block of `count` pixels (rows past it repeat the last one). */
void mnd_mve_fast_block_init(fast_block* b, const mnd_conv_params* p, int32_t depth, const channel_requant* table,
                             int left);
void mnd_mve_fast_block_run(fast_block* b, const int8_t* const rows[4], int8_t* out, int32_t count);

#endif
