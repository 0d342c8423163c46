"""Settings of int8 post-training quantization."""
from dataclasses import dataclass

MIN_RECOMMENDED_SAMPLES = 100


@dataclass(frozen=True)
class QuantConfig:
    calibration_samples: int = 200
    scheme: str = "int8-per-channel"
    onnx_reduce_range: bool = False  # 7-bit ONNX weights: ONNX Runtime's x86 kernels without VNNI cannot saturate
