"""Settings of int8 post-training quantization."""
from dataclasses import dataclass

MIN_RECOMMENDED_SAMPLES = 100
WEIGHT_SCHEMES = ("per-channel", "per-tensor")
CALIBRATION_METHODS = ("minmax", "percentile", "mse")


@dataclass(frozen=True)
class QuantConfig:
    calibration_samples: int = 200
    weights: str = "per-channel"  # symmetric int8 weights, one scale per output channel or per tensor
    calibration: str = "minmax"  # how each activation tensor's int8 range is chosen from the calibration data
    equalize: bool = False  # cross-layer equalization of depthwise -> pointwise pairs on the float model
    # biases corrected for the mean output shift weight quantization introduces; None ("auto"): kept only where it
    # lowers the int8 output error on calibration inputs it was not fitted on (quantize.bias_choice)
    bias_correct: bool | None = None
    onnx_reduce_range: bool = False  # 7-bit ONNX weights: ONNX Runtime's x86 kernels without VNNI cannot saturate

    @property
    def scheme(self) -> str:
        return f"int8-{self.weights}"

    @property
    def changes_float_model(self) -> bool:
        return self.equalize or bool(self.bias_correct)
