/* Runs the model on every sample of inputs.bin (host file, via semihosting), appends each output to
 * outputs.bin and prints a one-line report. Nothing here depends on the data: one ELF runs any inputs.
 * Exit codes: 0 ok, 2 cannot open a file, 3 inputs.bin is not whole samples, 4 read/write failed. */
#include <stdint.h>

#include "mnd_harness.h"
#include "model.h"
#include "semihost.h"
#include "stack.h"

static int8_t input[MND_INPUT_BYTES] __attribute__((aligned(16)));
static int8_t output[MND_OUTPUT_BYTES] __attribute__((aligned(16)));

static int fail(const char* what, const char* detail, int code)
{
    mnd_sh_print("mnd-error: ");
    mnd_sh_print(what);
    mnd_sh_print(detail);
    mnd_sh_print("\n");
    return code;
}

static void report(const char* key, unsigned long value)
{
    mnd_sh_print(" ");
    mnd_sh_print(key);
    mnd_sh_print("=");
    mnd_print_dec(value);
}

static int run(int in, int out, unsigned long samples, uint32_t* in_use)
{
    for (unsigned long i = 0; i < samples; i++) {
        if (mnd_sh_read(in, input, MND_INPUT_BYTES) != MND_INPUT_BYTES)
            return fail("reading inputs.bin failed", "", 4);
        *in_use = mnd_stack_in_use();
        mnd_model_invoke(input, output);
        if (mnd_sh_write(out, output, MND_OUTPUT_BYTES) != MND_OUTPUT_BYTES)
            return fail("writing outputs.bin failed", "", 4);
    }
    return 0;
}

int main(void)
{
    int in = mnd_sh_open("inputs.bin", MND_SH_READ_BINARY);
    if (in < 0) return fail("cannot open inputs.bin", " in the emulator's working directory", 2);
    long bytes = mnd_sh_flen(in);
    if (bytes < 0 || bytes % MND_INPUT_BYTES != 0)
        return fail("inputs.bin is not a whole number of samples of MND_INPUT_BYTES bytes", "", 3);
    int out = mnd_sh_open("outputs.bin", MND_SH_WRITE_BINARY);
    if (out < 0) return fail("cannot open outputs.bin", " for writing", 2);

    unsigned long samples = (unsigned long)bytes / MND_INPUT_BYTES;
    uint32_t in_use = 0;
    int status = run(in, out, samples, &in_use);
    if (mnd_sh_close(in) != 0 || mnd_sh_close(out) != 0) status = status ? status : fail("closing files failed", "", 4);
    if (status) return status;

    mnd_sh_print("mnd-report");
    report("samples", samples);
    report("layers", MND_LAYERS);
    report("input_bytes", MND_INPUT_BYTES);
    report("output_bytes", MND_OUTPUT_BYTES);
    report("stack_size", mnd_stack_size());
    report("stack_peak", mnd_stack_peak());
    report("stack_at_invoke", in_use);
    mnd_sh_print("\n");
    return 0;
}
