"""A realistic host export's manifest for the report tests: the seven host measurements an export makes on 359
digits samples, and a 30-row per-layer quantization table (what pushed the measurements ~1,900 px down before)."""
from dataclasses import replace

from mnd.pipeline.manifest import Measurement
from tests.unit.test_html_report import sample_manifest

N = 359
HOST_RUNS = [("litert", "tflite_float", 0.9861, 0.031), ("litert", "tflite_int8", 0.9833, 0.024),
             ("litert-ref", "tflite_float", 0.9861, 0.41), ("litert-ref", "tflite_int8", 0.9833, 0.52),
             ("onnxruntime", "onnx_float", 0.9861, 0.05), ("onnxruntime", "onnx_int8", 0.9805, 0.07),
             ("tflm", "tflm_c_source", 0.9833, 1.9)]
OPS = ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 13 + ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED"]


def host_measurements() -> tuple:
    return tuple(Measurement("host", runtime, artifact, round(accuracy * N) / N, N,
                             {"p50": p50, "p90": p50 * 1.2}, 20, threads=1, warmup=5)
                 for runtime, artifact, accuracy, p50 in HOST_RUNS)


def quantization_layers() -> list:
    return [{"depth": depth, "name": f"model/block_{depth}/{op.lower()}", "op": op, "sqnr_db": 40.6 - 0.55 * depth,
             "layer_sqnr_db": 45.0 - (depth % 7), "mean_abs_error": 0.01 * (1 + depth % 5),
             "max_abs_error": 0.2 + 0.01 * depth, "weight_range_spread": 3.5 + depth % 4, "weight_channels": 16,
             "dead_channels": depth % 3, "flagged": depth == 5}
            for depth, op in enumerate(OPS)]


def host_manifest():
    manifest = sample_manifest()
    evaluation = {**manifest.data["evaluation"], "samples": N}
    return replace(manifest, measurements=host_measurements(), data={**manifest.data, "evaluation": evaluation},
                   quantization={"scheme": "int8-per-channel", "calibration_samples": 200,
                                 "weights_scheme": "per-channel", "layers": quantization_layers()},
                   validations=tuple(replace(v, passed=True) for v in manifest.validations))
