/* What the harness offers a model: mnd_marker(), called before each layer and once after the last.
 * The emulator's instruction counter records its count every time execution reaches this function,
 * so the difference between two markers is the instruction count of one layer. */
#ifndef MND_HARNESS_H
#define MND_HARNESS_H

#ifdef __cplusplus
extern "C" {
#endif

__attribute__((noinline)) void mnd_marker(void);

#ifdef __cplusplus
}
#endif

#endif
