"""Activation ranges for int8 post-training quantization, the same for the TFLite and the ONNX artifacts.

Calibration feeds each activation tensor's values batch by batch into a TensorStatistics; choose_range then picks the
float range [lo, hi] that the tensor's asymmetric int8 quantization (256 levels, zero point) covers:
  minmax      the observed minimum and maximum (what both converters do on their own);
  percentile  the PERCENTILE_LOW and PERCENTILE_HIGH percentiles: a few extreme values no longer stretch the scale;
  mse         the range, shrunk from the observed one by a fraction, whose quantize-dequantize error is smallest.
Pure numpy.
"""
from dataclasses import asdict, dataclass

import numpy as np

from mnd.quantize.config import CALIBRATION_METHODS

SAMPLE_LIMIT = 1 << 20  # values kept per tensor: 8 MiB with their keys, whatever the model's size and sample count
SAMPLE_SEED = 0
PERCENTILE_LOW = 0.01
PERCENTILE_HIGH = 99.99
MSE_FRACTIONS = np.linspace(1.0, 0.1, 91)  # of the observed range (0 included), largest first: ties keep the widest
INT8_LEVELS = 256
INT8_MIN = -128


class TensorStatistics:
    """Exact minimum and maximum of every value added, and a uniform random subsample of at most `limit` of them.

    The subsample is bottom-k sampling: every value draws a random key and the `limit` smallest keys stay, so the
    same batches in the same order give the same subsample."""

    def __init__(self, limit: int = SAMPLE_LIMIT, seed: int = SAMPLE_SEED):
        self.minimum, self.maximum, self.count = np.inf, -np.inf, 0
        self._limit = limit
        self._rng = np.random.default_rng(seed)
        self._keys, self._values = [np.empty(0, np.float32)], [np.empty(0, np.float32)]
        self._pending = 0
        self._threshold = np.float32(np.inf)  # no key at or above it can be among the `limit` smallest

    @property
    def sample(self) -> np.ndarray:
        self._compact()
        return self._values[0]

    def add(self, values: np.ndarray) -> None:
        flat = np.asarray(values, np.float32).ravel()
        if flat.size == 0:
            return
        self.minimum = min(self.minimum, float(flat.min()))
        self.maximum = max(self.maximum, float(flat.max()))
        self.count += flat.size
        keys = self._rng.random(flat.size, np.float32)
        entering = keys < self._threshold
        self._keys.append(keys[entering])
        self._values.append(flat[entering])
        self._pending += int(entering.sum())
        if self._pending > self._limit // 4:
            self._compact()

    def _compact(self) -> None:
        keys, values = np.concatenate(self._keys), np.concatenate(self._values)
        if keys.size > self._limit:
            kept = np.argpartition(keys, self._limit - 1)[:self._limit]
            keys, values = keys[kept], values[kept]
            self._threshold = keys.max()
        self._keys, self._values, self._pending = [keys], [values], 0


@dataclass(frozen=True)
class RangeChoice:
    """What was chosen for one tensor: the range its int8 quantization covers, beside the observed one."""
    method: str
    lo: float
    hi: float
    observed_lo: float
    observed_hi: float

    def to_dict(self) -> dict:
        return asdict(self)


def quantize_dequantize(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """`values` through asymmetric int8 quantization of [lo, hi] as TFLite does it: the range widened to hold 0,
    256 levels, an integer zero point (0 is exact)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        return np.zeros_like(values)
    scale = np.float32((hi - lo) / (INT8_LEVELS - 1))
    zero_point = np.float32(np.clip(np.round(INT8_MIN - lo / scale), INT8_MIN, INT8_MIN + INT8_LEVELS - 1))
    levels = np.round(values / scale)
    levels += zero_point
    np.clip(levels, INT8_MIN, INT8_MIN + INT8_LEVELS - 1, out=levels)
    levels -= zero_point
    levels *= scale
    return levels


def quantization_mse(values: np.ndarray, lo: float, hi: float) -> float:
    return float(np.mean(np.square(quantize_dequantize(values, lo, hi) - values)))


def choose_range(statistics: TensorStatistics, method: str) -> tuple:
    """(lo, hi) for the tensor; "minmax" is exactly the observed range, the others always hold 0."""
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration must be one of {', '.join(CALIBRATION_METHODS)}, not {method!r}")
    observed = (statistics.minimum, statistics.maximum)
    if method == "minmax" or statistics.sample.size == 0 or observed[0] == observed[1]:
        return observed
    if method == "percentile":
        return _percentile_range(statistics.sample, *observed)
    return _mse_range(statistics.sample, *observed)


def _percentile_range(values: np.ndarray, observed_lo: float, observed_hi: float) -> tuple:
    """The percentiles, widened to hold 0; the observed range where almost every value is 0 and they would meet."""
    lo, hi = np.percentile(values, [PERCENTILE_LOW, PERCENTILE_HIGH])
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    return (lo, hi) if hi > lo else (observed_lo, observed_hi)


def _mse_range(values: np.ndarray, observed_lo: float, observed_hi: float) -> tuple:
    lo, hi = min(observed_lo, 0.0), max(observed_hi, 0.0)
    errors = [quantization_mse(values, lo * fraction, hi * fraction) for fraction in MSE_FRACTIONS]
    best = MSE_FRACTIONS[int(np.argmin(errors))]
    return lo * float(best), hi * float(best)


def choose_ranges(statistics: dict, method: str) -> dict:
    """{name: RangeChoice} for {name: TensorStatistics}."""
    choices = {}
    for name, tensor in statistics.items():
        lo, hi = choose_range(tensor, method)
        choices[name] = RangeChoice(method, float(lo), float(hi), float(tensor.minimum), float(tensor.maximum))
    return choices
