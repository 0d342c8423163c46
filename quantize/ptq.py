"""Full-integer int8 post-training quantization through the TFLite converter.

The Keras model is re-wrapped with batch 1 and exported as a SavedModel: a fixed batch keeps SHAPE and
STRIDED_SLICE ops out of the graph. Weights come out symmetric per-channel, activations asymmetric per-tensor;
run-time shape arithmetic is folded (quantize.static_shapes) and int8 FULLY_CONNECTED ops are rewritten as 1x1
convolutions (quantize.fc_as_conv).
"""
from pathlib import Path

import numpy as np

from mnd.base.errors import ModelError
from mnd.base.quiet import native_stderr_silenced
from mnd.quantize.config import WEIGHT_SCHEMES


def export_saved_model(model, directory: Path) -> Path:
    """Batch-1 SavedModel of a Keras model (input and output shapes otherwise unchanged)."""
    import keras

    inputs = keras.Input(shape=model.input_shape[1:], batch_size=1, name="image")
    keras.Model(inputs, model(inputs), name=model.name).export(str(directory), verbose=False)
    return directory


def convert(converter, what: str) -> bytes:
    """converter.convert(), with the converter's own failure as one ModelError line: its first error message."""
    from tensorflow.lite.python.convert_phase import ConverterError

    try:
        with native_stderr_silenced():
            return converter.convert()
    except ConverterError as error:
        detail = next((line.strip() for line in str(error).splitlines() if "error:" in line), str(error).strip())
        detail = detail.rsplit("): ", 1)[-1]  # drop MLIR's location prefix: "'tf.AsString' op is neither ..."
        raise ModelError(f"the TFLite converter cannot make the {what} model: {detail[:300]}; mnd exports MobileNet-"
                         "style image classifiers built from TFLite builtin ops") from None


def float_tflite(saved_model: Path) -> bytes:
    import tensorflow as tf

    return convert(tf.lite.TFLiteConverter.from_saved_model(str(saved_model)), "float")


def calibrated_float(saved_model: Path, samples: np.ndarray) -> bytes:
    """The float TFLite model the converter calibrates: every activation tensor carries its observed min/max.
    `samples`: float32 model inputs [N, H, W, C], fed in order as the representative dataset."""
    import tensorflow as tf

    def representative():
        for sample in samples:
            yield [sample[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_calibrate_only = True
    return convert(converter, "calibrated float")


def quantize_calibrated(calibrated: bytes, weights: str = "per-channel", verify: str | None = None) -> bytes:
    """Full-integer int8 (int8 input and output) from a calibrated model, as the converter's own second step.
    `weights`: "per-channel" or "per-tensor" symmetric int8. `verify`: a QuantizationDebugger model instead, with a
    NumericVerify op comparing every quantized op with its float twin; "layer": the float twin reads the quantized
    op's own input (the error each layer adds), "model": the float twins form the float model (the error so far)."""
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    if weights not in WEIGHT_SCHEMES:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_SCHEMES)}, not {weights!r}")
    if verify not in (None, "layer", "model"):
        raise ValueError(f"verify must be None, 'layer' or 'model', not {verify!r}")
    with native_stderr_silenced():
        return mlir_quantize(calibrated, disable_per_channel=weights == "per-tensor", input_data_type=tf.int8,
                             output_data_type=tf.int8, enable_numeric_verify=verify is not None,
                             enable_whole_model_verify=verify == "model")


def converted_int8(saved_model: Path, samples: np.ndarray, weights: str = "per-channel") -> bytes:
    """The TFLite converter's full-integer int8 model as it comes out (calibrated on `samples` in order)."""
    return quantize_calibrated(calibrated_float(saved_model, samples), weights)


def int8_tflite(saved_model: Path, samples: np.ndarray, weights: str = "per-channel") -> bytes:
    """The int8 model mnd exports: converted, static shape arithmetic folded, FC run as 1x1 convolutions."""
    return exported_int8(converted_int8(saved_model, samples, weights))


def exported_int8(converted: bytes) -> bytes:
    """The converter's int8 model as mnd exports it: static shape arithmetic folded, FC run as 1x1 convolutions."""
    from mnd.quantize.fc_as_conv import fully_connected_as_conv
    from mnd.quantize.static_shapes import fold_static_reshapes

    return fully_connected_as_conv(fold_static_reshapes(converted))
