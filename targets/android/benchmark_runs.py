"""LiteRT's benchmark_model on the phone: one run per .tflite file, delegate and thread count, parsed into rows."""
from dataclasses import dataclass

BENCHMARK_URL = ("https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/"
                 "nightly/latest/android_aarch64_benchmark_model")
DELEGATE_FLAGS = {"cpu": ("--use_xnnpack=false",), "xnnpack": ("--use_xnnpack=true",),
                  "gpu": ("--use_gpu=true",), "nnapi": ("--use_nnapi=true",)}
SINGLE_THREADED = ("gpu", "nnapi")  # the accelerator does the work: --num_threads does not apply, one row each
BENCHMARK_KINDS = ("tflite_int8", "tflite_float")


@dataclass(frozen=True)
class BenchmarkRun:
    kind: str
    model: str      # the file's name on the phone
    delegate: str
    threads: int

    @property
    def runtime(self) -> str:
        return f"benchmark_model-{self.delegate}"


def plan_runs(models: dict, delegates: tuple, threads: tuple) -> list:
    """`models`: {artifact kind: name on the phone}; a run per kind, delegate and (CPU delegates) thread count."""
    runs = []
    for kind in BENCHMARK_KINDS:
        if kind not in models:
            continue
        for delegate in delegates:
            for count in ((1,) if delegate in SINGLE_THREADED else threads):
                runs.append(BenchmarkRun(kind, models[kind], delegate, count))
    return runs


def benchmark_argv(run: BenchmarkRun, warmup: int, runs: int) -> list:
    return ["./benchmark_model", f"--graph={run.model}", f"--num_threads={run.threads}",
            f"--warmup_runs={warmup}", f"--num_runs={runs}", "--min_secs=0", "--warmup_min_secs=0",
            "--enable_op_profiling=true", *DELEGATE_FLAGS[run.delegate]]
