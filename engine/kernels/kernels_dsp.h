/* The DSP-extension instructions the DSP kernels use (kernels_*_dsp.c), as ACLE
 * intrinsics or inline assembly; where the DSP extension is missing (a host build, for diagnosis), C versions
 * of them. */
#ifndef MND_KERNELS_DSP_H_
#define MND_KERNELS_DSP_H_

#include <stdint.h>

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>

static inline int32_t sxtb16_even(int32_t x) { return (int32_t)__sxtb16((uint32_t)x); }

static inline int32_t sxtb16_odd(int32_t x) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}

static inline int32_t smlad(int32_t a, int32_t b, int32_t acc) { return __smlad(a, b, acc); }
static inline int32_t smlabb(int32_t a, int32_t b, int32_t acc) { return __smlabb(a, b, acc); }
static inline int32_t smlatt(int32_t a, int32_t b, int32_t acc) { return __smlatt(a, b, acc); }

static inline int32_t ssat8(int32_t x) { return __ssat(x, 8); }

static inline int32_t smmulr(int32_t a, int32_t b) {
  int32_t r;
  __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
#else
static inline int32_t low16(int32_t x) { return (int16_t)(uint16_t)((uint32_t)x & 0xffffu); }
static inline int32_t high16(int32_t x) { return (int16_t)(uint16_t)((uint32_t)x >> 16); }
static inline int32_t pack16(int32_t low, int32_t high) {
  return (int32_t)(((uint32_t)low & 0xffffu) | ((uint32_t)high << 16));
}
static inline int32_t sxtb16_even(int32_t x) { return pack16((int8_t)(x & 0xff), (int8_t)((x >> 16) & 0xff)); }
static inline int32_t sxtb16_odd(int32_t x) { return pack16((int8_t)((x >> 8) & 0xff), (int8_t)((x >> 24) & 0xff)); }
static inline int32_t smlad(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(low16(a) * low16(b)) + (uint32_t)(high16(a) * high16(b)));
}
static inline int32_t smlabb(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(low16(a) * low16(b)));
}
static inline int32_t smlatt(int32_t a, int32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(high16(a) * high16(b)));
}
static inline int32_t ssat8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
static inline int32_t smmulr(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 31)) >> 32);
}
#endif

#endif
