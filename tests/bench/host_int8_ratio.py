"""Host LiteRT latency of int8 vs float mobilenet_v1_100_224, both measured in one script on one machine."""
import tempfile
from pathlib import Path

import numpy as np

from mnd.base.runtimes.inputs import inputs_for
from mnd.base.runtimes.sandbox import run_model
from mnd.pipeline.environment import cpu_facts
from mnd.pipeline.model.architecture import ModelSpec
from mnd.pipeline.model.keras_builder import build_model
from mnd.quantize.ptq import export_saved_model, float_tflite, int8_tflite
from mnd.targets.latency import latency_summary

GOAL = 0.4
WARMUP, RUNS = 10, 100


def run() -> str:
    spec = ModelSpec(alpha=1.0, side=224, classes=1000)
    samples = np.random.default_rng(0).random((32, 224, 224, 3), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        saved = export_saved_model(build_model(spec), Path(tmp) / "sm")
        float_path, int8_path = Path(tmp) / "f.tflite", Path(tmp) / "q.tflite"
        float_path.write_bytes(float_tflite(saved))
        int8_path.write_bytes(int8_tflite(saved, samples))
        results = {}
        for threads in (1, 2):
            for name, path in (("float", float_path), ("int8", int8_path)):
                run = run_model("litert", path, inputs_for(path, samples[:1]), threads=threads, warmup=WARMUP, runs=RUNS)
                results[(name, threads)] = latency_summary(run.latencies_ms)
    cpu = cpu_facts()
    lines = ["## Host int8/float latency: mobilenet_v1_100_224 on LiteRT (`make bench`)", "",
             f"CPU: {cpu['cpu_model']}; ISA flags: {', '.join(cpu['isa_flags'])}. LiteRT default kernels (XNNPACK), "
             f"{WARMUP} warm-up + {RUNS} timed runs, batch 1, untrained weights (latency does not depend on their values). "
             f"Goal: int8/float p50 <= {GOAL}.", "",
             "| threads | float p50 ms | int8 p50 ms | float p90 ms | int8 p90 ms | int8/float (p50) |",
             "|---|---|---|---|---|---|"]
    for threads in (1, 2):
        f, q = results[("float", threads)], results[("int8", threads)]
        lines.append(f"| {threads} | {f['p50']:.2f} | {q['p50']:.2f} | {f['p90']:.2f} | {q['p90']:.2f} | "
                     f"{q['p50'] / f['p50']:.2f} |")
    return "\n".join(lines)
