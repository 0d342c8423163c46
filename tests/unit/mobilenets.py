"""Small Keras-Applications MobileNet V2 / V3 int8 models for the C engine's tests, built without downloads.

Untrained weights with BatchNorm's initial statistics shrink activations to nothing, so the moving statistics are
set from one pass over the calibration inputs (as `--train-epochs 0` does), then the model is converted with mnd's
own int8 path (quantize.ptq.int8_tflite: per-channel weights, int8 input and output)."""
from pathlib import Path

import numpy as np

SIDE = 96
CALIBRATION = 16

# name -> (Keras Applications constructor name, keyword arguments)
MODELS = {
    "v2_035_96": ("MobileNetV2", dict(alpha=0.35, classes=10)),
    "v3s_075_96": ("MobileNetV3Small", dict(alpha=0.75, classes=10, include_preprocessing=False)),
    "v3s_075_96_min": ("MobileNetV3Small", dict(alpha=0.75, classes=10, include_preprocessing=False,
                                                minimalistic=True)),
    "v3l_075_96": ("MobileNetV3Large", dict(alpha=0.75, classes=10, include_preprocessing=False)),
}


def _normalize_batch_norms(model, x: np.ndarray) -> None:
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0  # the moving statistics become this batch's statistics
    model(x, training=True)


def calibration_inputs(seed: int = 0) -> np.ndarray:
    """Smooth random images in [-1, 1] (a few blurred blobs rather than white noise, so activations vary)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (CALIBRATION, SIDE // 8, SIDE // 8, 3))
    return np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2).astype(np.float32) * 0.8 + \
        rng.uniform(-0.2, 0.2, (CALIBRATION, SIDE, SIDE, 3)).astype(np.float32)


def build_int8(name: str, directory: Path) -> Path:
    """The int8 .tflite of MODELS[name] in `directory` (built once per directory)."""
    path = Path(directory) / f"{name}.tflite"
    if path.is_file():
        return path
    import keras

    from mnd.quantize.ptq import export_saved_model, int8_tflite

    constructor, kwargs = MODELS[name]
    keras.utils.set_random_seed(1)
    model = getattr(keras.applications, constructor)(input_shape=(SIDE, SIDE, 3), weights=None, **kwargs)
    samples = calibration_inputs()
    _normalize_batch_norms(model, samples)
    saved = export_saved_model(model, Path(directory) / f"{name}_saved")
    path.write_bytes(int8_tflite(saved, samples))
    return path


def int8_inputs(count: int, seed: int = 5) -> np.ndarray:
    """Random int8 images for a model whose input is 1 x SIDE x SIDE x 3."""
    return np.random.default_rng(seed).integers(-128, 128, (count, SIDE, SIDE, 3)).astype(np.int8)
