"""Calibration data: a fixed, ordered set of preprocessed samples (the same ones for TFLite and ONNX)."""
import logging

import numpy as np

from mnd.base.errors import DataError
from mnd.pipeline.data.dataset import Dataset
from mnd.pipeline.data.datasets import stratified_subset
from mnd.quantize.config import MIN_RECOMMENDED_SAMPLES

log = logging.getLogger("mnd")


def calibration_pixels(dataset: Dataset, count: int) -> np.ndarray:
    """Up to `count` samples, stratified and deterministic; uint8 pixels, preprocessing applied later."""
    if len(dataset) == 0:
        raise DataError(f"calibration set '{dataset.name}' is empty; give --calib a dataset with images")
    chosen = stratified_subset(dataset, count)
    if len(chosen) < MIN_RECOMMENDED_SAMPLES:
        log.warning("only %d calibration samples; int8 ranges from fewer than %d are often poor — "
                    "give --calib more images", len(chosen), MIN_RECOMMENDED_SAMPLES)
    return chosen.pixels
