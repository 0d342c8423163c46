/* The model contract of main.c (model.h) fulfilled by TFLite-Micro: an export's C array run by MicroInterpreter
 * with the op resolver the export wrote, in a static arena of the size its header gives. A profiler calls
 * mnd_marker() as each operator begins, and mnd_model_invoke once more after Invoke returns, so the counting plugin
 * sees MND_LAYERS + 1 markers per inference: operator i's instructions lie between markers i and i + 1.
 * tflm_binding.h (written by mnd per export) names the export's array, resolver and arena size.
 * Set-up (AllocateTensors) happens on the first call, before its first marker, and prints the arena used:
 *   mnd-tflm arena_used=N */
#include <stdint.h>
#include <string.h>

#include <new>

#include "mnd_harness.h"
#include "model.h"
extern "C" {
#include "semihost.h"
}
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tflm_binding.h"

namespace {

class MarkerProfiler : public tflite::MicroProfilerInterface {
 public:
  uint32_t BeginEvent(const char*) override
  {
    mnd_marker();
    return 0;
  }
  void EndEvent(uint32_t) override {}
};

/* Objects live in static storage built with placement new: no constructors or destructors run at start-up or exit
 * (the harness has neither .init_array nor atexit). */
alignas(16) uint8_t arena[MND_TFLM_ARENA_BYTES];
alignas(MndOpResolver) uint8_t resolver_storage[sizeof(MndOpResolver)];
alignas(MarkerProfiler) uint8_t profiler_storage[sizeof(MarkerProfiler)];
alignas(tflite::MicroInterpreter) uint8_t interpreter_storage[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter* interpreter = nullptr;

[[noreturn]] void fail(const char* what)
{
  mnd_sh_print("mnd-error: tflm: ");
  mnd_sh_print(what);
  mnd_sh_print("\n");
  mnd_sh_exit(5);
}

tflite::MicroInterpreter* start()
{
  const tflite::Model* model = tflite::GetModel(MND_TFLM_MODEL_DATA);
  if (model->version() != TFLITE_SCHEMA_VERSION) fail("the model's schema version is not this TFLM's");
  MndOpResolver* resolver = new (resolver_storage) MndOpResolver();
  if (MndRegisterOps(*resolver) != kTfLiteOk) fail("registering the model's operators failed");
  MarkerProfiler* profiler = new (profiler_storage) MarkerProfiler();
  tflite::MicroInterpreter* started = new (interpreter_storage)
      tflite::MicroInterpreter(model, *resolver, arena, sizeof arena, nullptr, profiler);
  if (started->AllocateTensors() != kTfLiteOk) fail("AllocateTensors failed (is the arena large enough?)");
  if (started->inputs_size() != 1 || started->outputs_size() != 1) fail("the model has not one input and output");
  if (started->input(0)->bytes != MND_INPUT_BYTES || started->output(0)->bytes != MND_OUTPUT_BYTES)
    fail("the input or output tensor's size differs from model.h");
  mnd_sh_print("mnd-tflm arena_used=");
  mnd_print_dec((unsigned long)started->arena_used_bytes());
  mnd_sh_print("\n");
  return started;
}

}  // namespace

extern "C" void mnd_model_invoke(const int8_t* input, int8_t* output)
{
  if (interpreter == nullptr) interpreter = start();
  memcpy(interpreter->input(0)->data.int8, input, MND_INPUT_BYTES);
  if (interpreter->Invoke() != kTfLiteOk) fail("Invoke failed");
  mnd_marker();
  memcpy(output, interpreter->output(0)->data.int8, MND_OUTPUT_BYTES);
}
