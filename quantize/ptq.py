"""Full-integer int8 post-training quantization through the TFLite converter.

The Keras model is re-wrapped with batch 1 and exported as a SavedModel: a fixed batch keeps SHAPE and
STRIDED_SLICE ops out of the graph. Weights come out symmetric per-channel, activations asymmetric per-tensor;
run-time shape arithmetic is folded (quantize.static_shapes) and int8 FULLY_CONNECTED ops are rewritten as 1x1
convolutions (quantize.fc_as_conv).
"""
from pathlib import Path

import numpy as np

from mnd.pipeline.errors import ModelError
from mnd.pipeline.quiet import native_stderr_silenced


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


def converted_int8(saved_model: Path, samples: np.ndarray) -> bytes:
    """The TFLite converter's full-integer int8 model as it comes out. `samples`: float32 model inputs
    [N, H, W, C], fed in order as the representative dataset."""
    import tensorflow as tf

    def representative():
        for sample in samples:
            yield [sample[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return convert(converter, "int8")


def int8_tflite(saved_model: Path, samples: np.ndarray) -> bytes:
    """The int8 model mnd exports: converted, static shape arithmetic folded, FC run as 1x1 convolutions."""
    from mnd.quantize.fc_as_conv import fully_connected_as_conv
    from mnd.quantize.static_shapes import fold_static_reshapes

    return fully_connected_as_conv(fold_static_reshapes(converted_int8(saved_model, samples)))
