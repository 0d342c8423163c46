/* mnd-c: mnd's C engine as a Linux program (Raspberry Pi, Android's adb shell, any host).
 *
 *   mnd-c INPUTS OUTPUTS [WARMUP RUNS]
 *
 * INPUTS holds N >= 1 samples of MND_INPUT_BYTES raw int8 values each. Every sample is run once and the N
 * outputs (MND_OUTPUT_BYTES int8 values each) are written to OUTPUTS, via OUTPUTS.tmp and rename(), so a failed
 * run never leaves a partial OUTPUTS file. Then WARMUP untimed and RUNS timed invocations (default 0 and 0)
 * cycle through the samples, each timed alone with CLOCK_MONOTONIC. stdout gets one JSON object:
 *   {"engine": "mnd-c", "samples": N, "input_bytes": .., "output_bytes": .., "arena_bytes": ..,
 *    "warmup": W, "runs": R, "latencies_ms": [..]}
 * Exit status: 0 done; 1 an I/O error; 2 a usage error or an INPUTS size that is not a positive multiple of
 * MND_INPUT_BYTES. Every error is one line on stderr. Plain C99 + POSIX, single-threaded. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

#define EXIT_IO 1
#define EXIT_USAGE 2
#define MAX_COUNT 100000000L /* WARMUP and RUNS: enough for any benchmark, small enough for the latency array */
#define READ_CHUNK 65536

static const char* program = "mnd-c";

static int fail(int status, const char* what, const char* path) {
  if (path != NULL) {
    fprintf(stderr, "%s: %s %s: %s\n", program, what, path, strerror(errno));
  } else {
    fprintf(stderr, "%s: %s\n", program, what);
  }
  return status;
}

static int usage(void) {
  fprintf(stderr, "usage: %s INPUTS OUTPUTS [WARMUP RUNS]  (WARMUP, RUNS: whole numbers up to %ld)\n", program,
          MAX_COUNT);
  return EXIT_USAGE;
}

/* A whole number in [0, MAX_COUNT], or -1. */
static long parse_count(const char* text) {
  char* end = NULL;
  long value;
  if (text[0] < '0' || text[0] > '9') return -1;
  errno = 0;
  value = strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value > MAX_COUNT) return -1;
  return value;
}

/* The whole file (a pipe works too) in one malloc'd buffer; 0 on success, else errno is set. */
static int read_all(const char* path, int8_t** data, size_t* size) {
  FILE* file = fopen(path, "rb");
  size_t capacity = READ_CHUNK, used = 0;
  int8_t* buffer;
  if (file == NULL) return -1;
  buffer = malloc(capacity);
  while (buffer != NULL) {
    size_t got;
    if (used == capacity) {
      int8_t* bigger = capacity > SIZE_MAX / 2 ? NULL : realloc(buffer, capacity * 2);
      if (bigger == NULL) break;
      buffer = bigger;
      capacity *= 2;
    }
    errno = 0;
    got = fread(buffer + used, 1, capacity - used, file);
    used += got;
    if (got == 0) {
      int failed = ferror(file), saved = errno;
      fclose(file);
      if (failed) {
        free(buffer);
        errno = saved != 0 ? saved : EIO;
        return -1;
      }
      *data = buffer;
      *size = used;
      return 0;
    }
  }
  free(buffer);
  fclose(file);
  errno = ENOMEM;
  return -1;
}

/* OUTPUTS.tmp, flushed to disk, then renamed over OUTPUTS; on any failure the temporary file is removed. */
static int write_atomically(const char* path, const int8_t* data, size_t size) {
  size_t length = strlen(path);
  char* temporary = malloc(length + sizeof ".tmp");
  FILE* file;
  int failed;
  if (temporary == NULL) return -1;
  memcpy(temporary, path, length);
  memcpy(temporary + length, ".tmp", sizeof ".tmp");
  file = fopen(temporary, "wb");
  if (file == NULL) {
    free(temporary);
    return -1;
  }
  failed = fwrite(data, 1, size, file) != size || fflush(file) != 0 || fsync(fileno(file)) != 0;
  failed = (fclose(file) != 0) || failed;
  if (!failed) failed = rename(temporary, path) != 0;
  if (failed) {
    int saved = errno;
    unlink(temporary);
    errno = saved != 0 ? saved : EIO;
  }
  free(temporary);
  return failed ? -1 : 0;
}

static double elapsed_ms(const struct timespec* start, const struct timespec* stop) {
  return (double)(stop->tv_sec - start->tv_sec) * 1e3 + (double)(stop->tv_nsec - start->tv_nsec) / 1e6;
}

static int print_report(size_t samples, long warmup, long runs, const double* latencies) {
  long run;
  printf("{\"engine\": \"mnd-c\", \"samples\": %lu, \"input_bytes\": %d, \"output_bytes\": %d, "
         "\"arena_bytes\": %d, \"warmup\": %ld, \"runs\": %ld, \"latencies_ms\": [",
         (unsigned long)samples, MND_INPUT_BYTES, MND_OUTPUT_BYTES, MND_ARENA_BYTES, warmup, runs);
  for (run = 0; run < runs; ++run) printf(run == 0 ? "%.6f" : ", %.6f", latencies[run]);
  printf("]}\n");
  if (fflush(stdout) != 0 || ferror(stdout)) return fail(EXIT_IO, "cannot write the report to", "stdout");
  return 0;
}

int main(int argc, char** argv) {
  int8_t* inputs = NULL;
  int8_t* outputs = NULL;
  double* latencies = NULL;
  size_t input_size = 0, samples, sample;
  long warmup = 0, runs = 0, run;
  int status;

  if (argc != 3 && argc != 5) return usage();
  if (argc == 5 && ((warmup = parse_count(argv[3])) < 0 || (runs = parse_count(argv[4])) < 0)) return usage();
  if (read_all(argv[1], &inputs, &input_size) != 0) return fail(EXIT_IO, "cannot read", argv[1]);
  if (input_size == 0 || input_size % MND_INPUT_BYTES != 0) {
    fprintf(stderr, "%s: %s holds %lu bytes; expected a positive multiple of %d (MND_INPUT_BYTES, one int8 "
            "sample)\n", program, argv[1], (unsigned long)input_size, MND_INPUT_BYTES);
    free(inputs);
    return EXIT_USAGE;
  }
  samples = input_size / MND_INPUT_BYTES;
  outputs = malloc(samples * MND_OUTPUT_BYTES);
  latencies = malloc((size_t)(runs > 0 ? runs : 1) * sizeof *latencies);
  if (outputs == NULL || latencies == NULL) {
    free(inputs);
    free(outputs);
    free(latencies);
    return fail(EXIT_IO, "out of memory for the outputs and latencies", NULL);
  }

  for (sample = 0; sample < samples; ++sample) {
    mnd_model_invoke(inputs + sample * MND_INPUT_BYTES, outputs + sample * MND_OUTPUT_BYTES);
  }
  if (write_atomically(argv[2], outputs, samples * MND_OUTPUT_BYTES) != 0) {
    status = fail(EXIT_IO, "cannot write", argv[2]);
  } else {
    status = 0;
    for (run = 0; run < warmup; ++run) {
      sample = (size_t)run % samples;
      mnd_model_invoke(inputs + sample * MND_INPUT_BYTES, outputs + sample * MND_OUTPUT_BYTES);
    }
    for (run = 0; run < runs && status == 0; ++run) {
      struct timespec start, stop;
      sample = (size_t)run % samples;
      if (clock_gettime(CLOCK_MONOTONIC, &start) != 0) status = fail(EXIT_IO, "clock_gettime failed", NULL);
      mnd_model_invoke(inputs + sample * MND_INPUT_BYTES, outputs + sample * MND_OUTPUT_BYTES);
      if (clock_gettime(CLOCK_MONOTONIC, &stop) != 0) status = fail(EXIT_IO, "clock_gettime failed", NULL);
      latencies[run] = elapsed_ms(&start, &stop);
    }
    if (status == 0) status = print_report(samples, warmup, runs, latencies);
  }
  free(inputs);
  free(outputs);
  free(latencies);
  return status;
}
