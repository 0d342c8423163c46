/* AVERAGE_POOL_2D for Helium (Cortex-M55, M85), bit-exact with kernels.c. Without MVE this file compiles to
 * nothing. */
#include "kernels.h"

#if defined(__ARM_FEATURE_MVE)
#include "kernels_mve_common.h"

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
